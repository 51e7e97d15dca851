"""The job tools both compute servers expose: job_status, wait_job, cancel_job, list_jobs.

Claude Code does not run MCP background tasks and limits a tool call's wall time, so long work is a job: start it,
get an id, then poll `job_status` or block in `wait_job`. A `wait_job` call lasts `DEFAULT_WAIT_S` unless asked for
longer, well under the 60 s request timeout of the official TypeScript SDK; a client that sends a progressToken gets
a progress notification at least every `HEARTBEAT_S` while it waits, so one that resets its timeout on progress
(`resetTimeoutOnProgress`) may wait up to `MAX_WAIT_S` in one call.
"""

# no `from __future__ import annotations`: fastmcp reads these signatures.
import asyncio
import time
from typing import Annotated, Any, ParamSpec, TypeVar

from fastmcp import Context
from pydantic import Field

from mcp_servers.core import READ_ONLY, ServerApp, refusals
from mcp_servers.jobs._models import CancelOutcome, CancelView, JobKind, JobState, JobView
from mcp_servers.jobs._queue import JobQueue

P = ParamSpec("P")
R = TypeVar("R")
MAX_WAIT_S = 300
DEFAULT_WAIT_S = 20.0
HEARTBEAT_S = 5.0
POLL_S = 0.5
MAX_ROWS = 2**63 - 1
JobId = Annotated[str, Field(description="id answered by start_training or predict", min_length=1, max_length=64)]


def register_job_tools(app: ServerApp[Any], queue: JobQueue) -> None:
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
        max_wait_s: Annotated[float, Field(
            description=f"seconds to wait at most (<= {MAX_WAIT_S}); over your client's request timeout only if it "
                        f"resets that timeout on progress (progress is sent every {HEARTBEAT_S:g} s)",
            gt=0, le=MAX_WAIT_S)] = DEFAULT_WAIT_S,
    ) -> JobView:
        """Wait until the job ends or max_wait_s passes, sending progress notifications; call again if still running."""
        agent = app.identity().agent
        deadline = time.monotonic() + max_wait_s
        view = queue.view(job_id, agent)
        beat = _Heartbeat(ctx)
        while not view.state.finished and time.monotonic() < deadline:
            await beat.maybe_send(view)
            await asyncio.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))
            view = await asyncio.to_thread(queue.view, job_id, agent)
        return await asyncio.to_thread(queue.view, job_id, agent, 20)

    @app.mcp.tool(annotations={"readOnlyHint": False, "destructiveHint": True, "idempotentHint": True})
    @refusals
    def cancel_job(job_id: JobId) -> CancelView:
        """Cancel one of your jobs: at once if queued, within a second if running (its slot is freed). The answer's
        `cancel` says which: cancelled, cancelling (follow it with wait_job) or already_finished."""
        agent = app.identity().agent
        before = queue.view(job_id, agent)
        after = queue.request_cancel(job_id, agent)
        outcome: CancelOutcome
        if before.state.finished or (after.state.finished and after.state != JobState.CANCELLED):
            outcome = "already_finished"  # it ended before the cancel reached it: its outcome stands
        elif after.state == JobState.CANCELLED:
            outcome = "cancelled"
        else:
            outcome = "cancelling"
        return CancelView(**after.model_dump(), cancel=outcome)

    @app.mcp.tool(annotations=READ_ONLY)
    @refusals
    def list_jobs(
        state: Annotated[JobState | None, Field(description="only jobs in this state")] = None,
        kind: Annotated[JobKind | None, Field(description="only jobs of this kind")] = None,
        limit: Annotated[int, Field(ge=1, le=200)] = 50,
        offset: Annotated[int, Field(ge=0, le=MAX_ROWS)] = 0,
    ) -> list[JobView]:
        """Your jobs, newest first."""
        return queue.list(agent=app.identity().agent, state=state, kind=kind, limit=limit, offset=offset)


class _Heartbeat:
    """Progress notifications of one wait: when the job's progress rises, and at least every HEARTBEAT_S even when
    it does not, so a client that resets its request timeout on progress keeps waiting. The spec wants each value
    above the last, so an unchanged job is reported a millionth higher (the message says where it really is)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx, self.sent, self.at = ctx, -1.0, float("-inf")

    async def maybe_send(self, view: JobView) -> None:
        now = time.monotonic()
        if view.progress <= self.sent and now - self.at < HEARTBEAT_S:
            return
        self.sent = view.progress if view.progress > self.sent else self.sent + 1e-6
        self.at = now
        done = f" ({view.progress:.0%})" if view.state == JobState.RUNNING else ""
        # total only while the value stays within it (a job at 1.0 that has not ended yet goes past it)
        await self.ctx.report_progress(progress=self.sent, total=1.0 if self.sent <= 1.0 else None,
                                       message=f"{view.state}{done}: {view.message}"[:500])
