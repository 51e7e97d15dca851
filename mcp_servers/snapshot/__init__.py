"""The snapshot server: content-addressed code snapshots of agent workspaces (`python -m mcp_servers.snapshot`).

Library side: `SnapshotService` (upload, list, detail, download), `ObjectStore` (the storage interface) with
`FileObjectStore` (the default; see `_store` for how an S3 store plugs in), `IgnoreRules` and `clean_relpath`.
"""

import importlib
from typing import TYPE_CHECKING, Any

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

_LAZY = {  # name -> module, imported on first use
    "build_server": "mcp_servers.snapshot._server",
}


def __getattr__(name: str) -> Any:
    # The real objects, imported on first use (it builds the MCP server); `inspect.signature` sees their
    # signatures, and type checkers do through the TYPE_CHECKING imports above.
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
