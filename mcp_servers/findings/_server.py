"""The findings MCP server: a forum of findings with grader-verified scores; author from the bearer token."""

# no `from __future__ import annotations`: fastmcp reads these signatures.
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from mcp_servers.core import READ_ONLY, WRITES, IdempotencyKeyArg, ServerApp, refusals
from mcp_servers.findings._models import (
    FINDING_TYPES,
    MAX_ID,
    CommentResult,
    FindingView,
    PostResult,
    SearchPage,
    SyncPage,
    VoteResult,
)
from mcp_servers.findings._service import FindingsService, FindingsSettings
from prompts import method_families

INSTRUCTIONS = """Shared findings of every agent in this run. Post what you learned (post_finding): a `result` cites
your grader submission ids and shows the grader's scores, never numbers you type. Every finding, comment and vote
is also synced as markdown into your workspace's shared_findings/ (INDEX.md first): browse it. search_findings ranks
by relevance (bm25); read_finding shows comments and votes; sync_findings exports changes after a cursor."""


def build_server(settings: FindingsSettings | None = None,
                 local_token: str | None = None) -> ServerApp[FindingsService]:
    settings = settings or FindingsSettings()
    app = ServerApp("findings", settings, instructions=INSTRUCTIONS, local_token=local_token,
                    service=lambda server: FindingsService(settings, server.engine, tokens=server.tokens))
    service = app.service
    families = ", ".join(method_families())
    FindingId = Annotated[int, Field(description="finding id (search_findings, shared_findings/INDEX.md)", ge=1,
                                     le=MAX_ID)]

    @app.mcp.tool(annotations=WRITES)
    @refusals
    def post_finding(
        title: Annotated[str, Field(description="one line", min_length=1, max_length=200)],
        summary: Annotated[str, Field(description="two or three sentences: what and how much", min_length=1,
                                      max_length=2000)],
        body: Annotated[str, Field(description="markdown: method, setup, evidence, caveats",
                                   max_length=settings.max_body_chars)],
        finding_type: Annotated[str, Field(description=f"one of: {', '.join(FINDING_TYPES)}; a result must cite "
                                                       "submission_ids")],
        idea: Annotated[str, Field(description="short tag of the idea, as in submit_predictions", min_length=1,
                                   max_length=80)],
        method_family: Annotated[str, Field(description=f"one of: {families}")],
        submission_ids: Annotated[list[Annotated[int, Field(ge=1, le=MAX_ID)]], Field(description="your grader submission ids behind this finding",
                                                   max_length=50)] = [],  # noqa: B006 - pydantic copies it
        config: Annotated[dict[str, Any] | None, Field(description="key hyperparameters (JSON object)")] = None,
        tags: Annotated[list[Annotated[str, Field(max_length=40)]], Field(description="free keywords",
                                                                          max_length=20)] = [],  # noqa: B006
        idempotency_key: IdempotencyKeyArg = None,
    ) -> PostResult:
        """Share a finding with every agent; you are the author (from your token)."""
        return service.post(app.identity(), title, summary, body, finding_type, idea, method_family,
                            submission_ids, config, tags, idempotency_key)

    @app.mcp.tool(annotations=READ_ONLY)
    @refusals
    def search_findings(
        query: Annotated[str, Field(description="free text; empty lists newest first", max_length=500)] = "",
        family: Annotated[str | None, Field(description=f"only this method family ({families})")] = None,
        finding_type: Annotated[str | None, Field(description=f"only this type ({', '.join(FINDING_TYPES)})")] = None,
        agent: Annotated[str | None, Field(description="only findings of this agent", max_length=64)] = None,
        min_pgr: Annotated[float | None, Field(description="only findings whose best cited grader PGR is >= this")]
        = None,
        since: Annotated[datetime | None, Field(description="only findings posted at or after this time (ISO 8601)")]
        = None,
        offset: Annotated[int, Field(ge=0, le=MAX_ID, description="from next_offset of the previous page")] = 0,
        limit: Annotated[int, Field(ge=1, le=settings.max_page)] = 10,
    ) -> SearchPage:
        """Findings ranked by relevance to `query` (SQLite FTS5, bm25; title weighs most), filtered and paged."""
        app.identity()
        return service.search(query, family, finding_type, agent, min_pgr, since, offset, limit)

    @app.mcp.tool(annotations=READ_ONLY)
    @refusals
    def read_finding(finding_id: FindingId) -> FindingView:
        """One finding in full: body, config, the grader's scores of its submissions, comments and votes."""
        app.identity()
        return service.read(finding_id)

    @app.mcp.tool(annotations=WRITES)
    @refusals
    def comment_finding(
        finding_id: FindingId,
        body: Annotated[str, Field(description="markdown", min_length=1, max_length=settings.max_comment_chars)],
    ) -> CommentResult:
        """Comment on a finding (replication, doubts, a pointer to your own result)."""
        return service.comment(app.identity(), finding_id, body)

    @app.mcp.tool(annotations={**WRITES, "idempotentHint": True})
    @refusals
    def vote_finding(
        finding_id: FindingId,
        value: Annotated[int, Field(description="1 up, -1 down, 0 withdraw; one vote per agent, changeable",
                                    ge=-1, le=1)] = 1,
    ) -> VoteResult:
        """Vote on another agent's finding; voting again replaces your vote."""
        return service.vote(app.identity(), finding_id, value)

    @app.mcp.tool(annotations=READ_ONLY)
    @refusals
    def sync_findings(
        cursor: Annotated[int, Field(ge=0, le=MAX_ID,
                                     description="0 the first time, then the cursor you were answered")] = 0,
        limit: Annotated[int, Field(ge=1, le=settings.max_page)] = settings.max_page,
    ) -> SyncPage:
        """Export every finding changed after `cursor` (new, commented, voted on, re-scored) for a local copy."""
        app.identity()
        service.refresh_grader()
        return service.export_since(cursor, limit)

    return app
