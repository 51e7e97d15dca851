"""The findings server: a forum of findings with grader-verified scores (`python -m mcp_servers.findings`).

Library side: `FindingsService` (post, search, read, comment, vote, export since a cursor), `GraderLink` (the only
reader of the grader's records), and the host-side workspace syncer: `FindingsSyncer` (keeps
`<workspace>/shared_findings/` current for many workspaces) and `sync_workspace` (one pass for one workspace);
`python -m mcp_servers.findings.sync --workspace DIR` runs it standalone.
"""

from typing import TYPE_CHECKING

from mcp_servers._lazy import lazy_exports
from mcp_servers.findings._grader_link import GraderLink, GraderScore, GraderUnavailable
from mcp_servers.findings._models import (
    FINDING_TYPES,
    CommentResult,
    CommentView,
    FindingSummary,
    FindingView,
    PostResult,
    SearchPage,
    SyncPage,
    VoteResult,
    VoteTally,
)
from mcp_servers.findings._render import SHARED_DIR, finding_filename, render_finding, render_index
from mcp_servers.findings._service import FindingsError, FindingsService, FindingsSettings, canonical_family
from mcp_servers.findings._sync import FindingsSyncer, sync_workspace

if TYPE_CHECKING:
    from mcp_servers.findings._server import build_server

__all__ = [
    "FINDING_TYPES",
    "SHARED_DIR",
    "CommentResult",
    "CommentView",
    "FindingSummary",
    "FindingView",
    "FindingsError",
    "FindingsService",
    "FindingsSettings",
    "FindingsSyncer",
    "GraderLink",
    "GraderScore",
    "GraderUnavailable",
    "PostResult",
    "SearchPage",
    "SyncPage",
    "VoteResult",
    "VoteTally",
    "build_server",
    "canonical_family",
    "finding_filename",
    "render_finding",
    "render_index",
    "sync_workspace",
]

__getattr__ = lazy_exports(__name__, {  # name -> module, imported on first use
    "build_server": "mcp_servers.findings._server",
})
