"""The snapshot server: content-addressed code snapshots of agent workspaces (`python -m mcp_servers.snapshot`).

Library side: `SnapshotService` (upload, list, detail, download), `ObjectStore` (the storage interface) with
`FileObjectStore` (the default; see `_store` for how an S3 store plugs in), `IgnoreRules` and `clean_relpath`.
"""

from typing import TYPE_CHECKING

from mcp_servers._lazy import lazy_exports
from mcp_servers.snapshot._fs import CACHE_DIRS, IGNORE_FILE, IgnoreRules, UnsafePath, clean_relpath
from mcp_servers.snapshot._models import (
    DownloadResult,
    SkippedPath,
    SnapshotDetail,
    SnapshotFile,
    SnapshotPage,
    SnapshotSummary,
    UploadResult,
)
from mcp_servers.snapshot._service import SnapshotError, SnapshotService, SnapshotSettings
from mcp_servers.snapshot._store import FileObjectStore, ObjectStore

if TYPE_CHECKING:
    from mcp_servers.snapshot._server import build_server

__all__ = [
    "CACHE_DIRS",
    "IGNORE_FILE",
    "DownloadResult",
    "FileObjectStore",
    "IgnoreRules",
    "ObjectStore",
    "SkippedPath",
    "SnapshotDetail",
    "SnapshotError",
    "SnapshotFile",
    "SnapshotPage",
    "SnapshotService",
    "SnapshotSettings",
    "SnapshotSummary",
    "UnsafePath",
    "UploadResult",
    "build_server",
    "clean_relpath",
]

__getattr__ = lazy_exports(__name__, {  # name -> module, imported on first use
    "build_server": "mcp_servers.snapshot._server",
})
