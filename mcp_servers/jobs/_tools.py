"""The job tools both compute servers expose: job_status, wait_job, cancel_job, list_jobs.

Claude Code does not run MCP background tasks and limits a tool call's wall time, so long work is a job: start it,
get an id, then poll `job_status` or block in `wait_job` (at most 300 s a call, with progress notifications).
"""

# no `from __future__ import annotations`: fastmcp reads these signatures.
import asyncio
import time
from typing import Annotated, ParamSpec, TypeVar

from fastmcp import Context
from pydantic import Field

from mcp_servers.core import READ_ONLY, ServerApp, refusals
from mcp_servers.jobs._models import JobState, JobView
from mcp_servers.jobs._queue import JobQueue

P = ParamSpec("P")
R = TypeVar("R")
MAX_WAIT_S = 300
JobId = Annotated[str, Field(description="id answered by start_training or predict", min_length=1, max_length=64)]


def register_job_tools(app: ServerApp, queue: JobQueue) -> None:
    """Add the four job tools to `app`; every one is scoped to the calling agent's own jobs."""

    @app.mcp.tool(annotations=READ_ONLY)
    @refusals
    def job_status(
        job_id: JobId,
        log_lines: Annotated[int, Field(description="lines of the job's log to include", ge=0, le=200)] = 20,
    ) -> JobView:
        """State, progress, latest metrics, result or error, and the tail of the log of one of your jobs."""
        return queue.view(job_id, app.identity().agent, log_lines=log_lines)

    @app.mcp.tool(annotations=READ_ONLY)
    @refusals
    async def wait_job(
        job_id: JobId,
        ctx: Context,
        max_wait_s: Annotated[float, Field(description=f"seconds to wait at most (<= {MAX_WAIT_S})", gt=0,
                                           le=MAX_WAIT_S)] = 60.0,
    ) -> JobView:
        """Wait until the job ends or max_wait_s passes, sending progress notifications; call again if still running."""
        agent = app.identity().agent
        deadline = time.monotonic() + max_wait_s
        view = queue.view(job_id, agent)
        last = -1.0
        while not view.state.finished and time.monotonic() < deadline:
            if view.progress != last:
                last = view.progress
                await ctx.report_progress(progress=view.progress, total=1.0, message=f"{view.state}: {view.message}")
            await asyncio.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
            view = queue.view(job_id, agent)
        return queue.view(job_id, agent, log_lines=20)

    @app.mcp.tool(annotations={"readOnlyHint": False, "destructiveHint": True, "idempotentHint": True})
    @refusals
    def cancel_job(job_id: JobId) -> JobView:
        """Cancel one of your jobs: at once if queued, within a second if running (its slot is freed)."""
        return queue.request_cancel(job_id, app.identity().agent)

    @app.mcp.tool(annotations=READ_ONLY)
    @refusals
    def list_jobs(
        state: Annotated[JobState | None, Field(description="only jobs in this state")] = None,
        kind: Annotated[str | None, Field(description="only 'train' or 'predict' jobs", max_length=32)] = None,
        limit: Annotated[int, Field(ge=1, le=200)] = 50,
        offset: Annotated[int, Field(ge=0)] = 0,
    ) -> list[JobView]:
        """Your jobs, newest first."""
        return queue.list(agent=app.identity().agent, state=state, kind=kind, limit=limit, offset=offset)
