"""The snapshot server: content-addressed code snapshots of agent workspaces (`python -m mcp_servers.snapshot`).

Library side: `SnapshotService` (upload, list, detail, download), `ObjectStore` (the storage interface) with
`FileObjectStore` (the default; see `_store` for how an S3 store plugs in), `IgnoreRules` and `clean_relpath`.
"""

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


def build_server(*args, **kwargs):  # type: ignore[no-untyped-def]
    """`mcp_servers.snapshot._server.build_server`, imported lazily."""
    from mcp_servers.snapshot._server import build_server as _build

    return _build(*args, **kwargs)
