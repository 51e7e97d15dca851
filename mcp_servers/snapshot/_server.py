"""The snapshot MCP server: code snapshots of agent workspaces, stored outside every sandbox."""

# no `from __future__ import annotations`: fastmcp reads these signatures.
from typing import Annotated

from pydantic import Field

from mcp_servers.core import READ_ONLY, WRITES, IdempotencyKeyArg, ServerApp, refusals
from mcp_servers.snapshot._models import MAX_ID, DownloadResult, SnapshotDetail, SnapshotPage, UploadResult
from mcp_servers.snapshot._service import SnapshotService, SnapshotSettings

INSTRUCTIONS = """Code snapshots shared by every agent, kept outside the sandboxes. upload_snapshot stores your
workspace as it is now (caches, shared_findings/, files over the size cap and paths in .snapshotignore are left
out); clients without a shared workspace send a base64 tar.gz as archive_b64. list_snapshots / get_snapshot show
everyone's; download_snapshot writes one into a folder of your own workspace (or answers it inline)."""


def build_server(settings: SnapshotSettings | None = None,
                 local_token: str | None = None) -> ServerApp[SnapshotService]:
    settings = settings or SnapshotSettings()
    app = ServerApp("snapshot", settings, instructions=INSTRUCTIONS, local_token=local_token,
                    service=lambda server: SnapshotService(settings, server.engine, tokens=server.tokens))
    service = app.service
    SnapshotId = Annotated[int, Field(description="snapshot id from upload_snapshot or list_snapshots", ge=1,
                                      le=MAX_ID)]

    @app.mcp.tool(annotations=WRITES)
    @refusals
    def upload_snapshot(
        message: Annotated[str, Field(description="one line: what this code is", min_length=1, max_length=2000)],
        idea: Annotated[str | None, Field(description="idea tag, as in submit_predictions", max_length=80)] = None,
        finding_id: Annotated[int | None, Field(description="the finding this code backs", ge=1, le=MAX_ID)] = None,
        archive_b64: Annotated[str | None, Field(
            description=f"inline mode: base64 of a tar.gz of your code (at most {settings.inline_max_bytes} bytes); "
                        "leave out to snapshot your workspace")] = None,
        idempotency_key: IdempotencyKeyArg = None,
    ) -> UploadResult:
        """Snapshot your workspace (or the archive you send) into the shared, deduplicated store."""
        return service.upload(app.identity(), message, idea, finding_id, archive_b64, idempotency_key)

    @app.mcp.tool(annotations=READ_ONLY)
    @refusals
    def list_snapshots(
        agent: Annotated[str | None, Field(description="only this agent's", max_length=64)] = None,
        idea: Annotated[str | None, Field(description="only this idea tag", max_length=80)] = None,
        finding_id: Annotated[int | None, Field(description="only snapshots backing this finding", ge=1,
                                                 le=MAX_ID)] = None,
        offset: Annotated[int, Field(ge=0, le=MAX_ID)] = 0,
        limit: Annotated[int, Field(ge=1, le=settings.max_page)] = 20,
    ) -> SnapshotPage:
        """Snapshots of every agent, newest first."""
        app.identity()
        return service.list(agent, idea, finding_id, offset, limit)

    @app.mcp.tool(annotations=READ_ONLY)
    @refusals
    def get_snapshot(snapshot_id: SnapshotId) -> SnapshotDetail:
        """One snapshot with its files (path, size, exec bit, sha256)."""
        app.identity()
        return service.detail(snapshot_id)

    @app.mcp.tool(annotations={"readOnlyHint": False, "destructiveHint": False, "idempotentHint": True})
    @refusals
    def download_snapshot(
        snapshot_id: SnapshotId,
        into: Annotated[str | None, Field(description="relative folder inside your workspace (default "
                                                      "snapshots/<id>); created if missing", max_length=1024)] = None,
        overwrite: Annotated[bool, Field(description="allow writing into a non-empty folder")] = False,
        inline: Annotated[bool, Field(description="answer a base64 tar.gz instead of writing files")] = False,
    ) -> DownloadResult:
        """Restore a snapshot into your own workspace (never anyone else's), or get it inline."""
        return service.download(app.identity(), snapshot_id, into, overwrite, inline)

    return app
