"""Jobs in SQLite: submit with quotas, fair claiming across agents, cancellation, and recovery after a restart.

Every read-then-write runs in `BEGIN IMMEDIATE`, so several dispatchers (the train and the predict server) may
share one queue and one set of slots without starting a job twice or overfilling a slot.
"""

from __future__ import annotations

import errno
import json
import secrets
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import col, select

from mcp_servers.core import BeneathError, init_tables, read_beneath_bytes, read_session, workspace_of, write_session
from mcp_servers.core._beneath import is_beneath_path
from mcp_servers.jobs._models import JobRow, JobState, JobView, utcnow

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LOG_TAIL_BYTES = 16384
MAX_METRICS = 64


class JobError(Exception):
    """A refused job operation; `problem` says what was wrong and `fix` what to do instead."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(f"{problem}; {fix}")
        self.problem, self.fix = problem, fix


@dataclass(frozen=True)
class Quotas:
    max_queued_per_agent: int | None = 20
    """Queued plus running jobs one agent may have; None for no limit."""
    max_running_per_agent: int | None = None
    """Slots one agent may hold at once; None lets an agent use every free slot when nobody else waits."""
    max_attempts: int = 2
    """A job interrupted by a server restart is requeued until it has started this many times."""


class JobQueue:
    def __init__(self, engine: Engine, quotas: Quotas | None = None, workspaces_dir: Path | None = None) -> None:
        self.engine = engine
        self.quotas = quotas or Quotas()
        self.workspaces_dir = workspaces_dir
        """Where agents' workspaces are; log tails are read beneath them (None: no log tails)."""
        init_tables(engine, JobRow)

    def submit(self, agent: str, kind: str, target: str, spec: dict[str, Any], run_dir: str | None = None,
               job_id: str | None = None) -> JobView:
        """Queue a job whose `spec` the caller has already validated. `target` is a `trainer.jobs` function run
        inside the agent's sandbox; `run_dir` is relative to the agent's workspace (default `runs/<job id>`)."""
        job_id = job_id or f"{kind}-{secrets.token_hex(6)}"
        run_dir = run_dir if run_dir is not None else f"runs/{job_id}"
        if not target.startswith("trainer.jobs.") or ":" not in target:
            raise ValueError(f"job target {target!r} must be a trainer.jobs function ('trainer.jobs.<m>:<f>')")
        if not is_beneath_path(run_dir):
            raise ValueError(f"run_dir {run_dir!r} must be relative to the workspace, without '..'")
        with write_session(self.engine) as session:
            active = session.exec(
                select(JobRow.id).where(JobRow.agent == agent,
                                        col(JobRow.state).in_([JobState.QUEUED, JobState.RUNNING]))
            ).all()
            limit = self.quotas.max_queued_per_agent
            if limit is not None and len(active) >= limit:
                raise JobError(f"you already have {len(active)} queued or running jobs (limit {limit})",
                               "wait for some to finish (wait_job) or cancel some (cancel_job)")
            row = JobRow(id=job_id, agent=agent, kind=kind, spec=json.dumps({"target": target, "args": spec}),
                         run_dir=run_dir)
            session.add(row)
        return self.view(job_id, agent)

    def _row(self, job_id: str, agent: str | None) -> JobRow:
        with read_session(self.engine) as session:
            row = session.get(JobRow, job_id)
        # Another agent's job is reported exactly like a missing one: ids reveal nothing about other agents.
        if row is None or (agent is not None and row.agent != agent):
            raise JobError(f"no job {job_id!r} of yours", "list your jobs with list_jobs")
        return row

    def view(self, job_id: str, agent: str | None = None, log_lines: int = 0) -> JobView:
        row = self._row(job_id, agent)
        position = None
        if row.state == JobState.QUEUED:
            with read_session(self.engine) as session:
                position = len(session.exec(select(JobRow.id).where(
                    JobRow.state == JobState.QUEUED, col(JobRow.created_at) < row.created_at)).all())
        return JobView.of(row, position, self._tail(row, log_lines) if log_lines else None)

    def _tail(self, row: JobRow, lines: int) -> str | None:
        """The last lines of the job's log, opened once beneath the workspace without following any link: the
        agent owns that folder and may have planted a link to any host file there."""
        if self.workspaces_dir is None or row.run_dir.startswith("/"):  # no workspaces, or a row stored with a host path
            return None
        try:
            data = read_beneath_bytes(workspace_of(self.workspaces_dir, row.agent), f"{row.run_dir}/log.txt",
                                      max_bytes=LOG_TAIL_BYTES, from_end=True)
        except FileNotFoundError:
            return None
        except BeneathError as exc:
            if exc.errno == errno.ENOENT:
                return None
            return f"(log not shown: {exc.strerror})"
        return "\n".join(data.decode("utf-8", errors="replace").splitlines()[-lines:])

    def list(self, agent: str | None = None, state: JobState | None = None, kind: str | None = None,
             limit: int = 50, offset: int = 0) -> list[JobView]:
        query = select(JobRow).order_by(col(JobRow.created_at).desc()).offset(offset).limit(limit)
        if agent is not None:
            query = query.where(JobRow.agent == agent)
        if state is not None:
            query = query.where(JobRow.state == state)
        if kind is not None:
            query = query.where(JobRow.kind == kind)
        with read_session(self.engine) as session:
            return [JobView.of(row) for row in session.exec(query).all()]

    def request_cancel(self, job_id: str, agent: str | None) -> JobView:
        """A queued job is cancelled at once; a running one when its dispatcher next looks (within a second)."""
        self._row(job_id, agent)
        with write_session(self.engine) as session:
            row = session.get(JobRow, job_id)
            assert row is not None
            if row.state == JobState.QUEUED:
                row.state, row.finished_at, row.message = JobState.CANCELLED, utcnow(), "cancelled before it started"
            elif row.state == JobState.RUNNING:
                row.cancel_requested = True
            session.add(row)
        return self.view(job_id, agent)

    def claim_next(self, n_slots: int, owner_pid: int) -> tuple[JobRow, int] | None:
        """Start the fairest queued job if a slot is free: the agent with the fewest running jobs, then the one
        that started a job longest ago, then that agent's oldest job (round-robin across agents)."""
        with write_session(self.engine) as session:
            running = session.exec(select(JobRow).where(JobRow.state == JobState.RUNNING)).all()
            free = sorted(set(range(n_slots)) - {r.slot for r in running})
            if not free:
                return None
            queued = session.exec(select(JobRow).where(JobRow.state == JobState.QUEUED)
                                  .order_by(col(JobRow.created_at))).all()
            if not queued:
                return None
            holding: dict[str, int] = defaultdict(int)
            for row in running:
                holding[row.agent] += 1
            last_start: dict[str, datetime] = {}
            for agent, started in session.exec(select(JobRow.agent, JobRow.started_at)
                                               .where(col(JobRow.started_at).is_not(None))).all():
                if started is not None and (agent not in last_start or started > last_start[agent]):
                    last_start[agent] = started
            cap = self.quotas.max_running_per_agent
            candidates = [r for r in queued if cap is None or holding[r.agent] < cap]
            if not candidates:
                return None
            job = min(candidates, key=lambda r: (holding[r.agent], last_start.get(r.agent, _EPOCH),
                                                 r.created_at))
            job.state, job.slot, job.owner_pid = JobState.RUNNING, free[0], owner_pid
            job.started_at, job.attempts, job.message = utcnow(), job.attempts + 1, "starting"
            session.add(job)
        return job, free[0]

    def set_pid(self, job_id: str, pid: int | None) -> None:
        with write_session(self.engine) as session:
            row = session.get(JobRow, job_id)
            if row is not None:
                row.pid = pid
                session.add(row)

    def record_progress(self, job_id: str, fraction: float, message: str, metrics: dict[str, Any]) -> None:
        """What a running job reported (already validated and bounded by the dispatcher)."""
        with write_session(self.engine) as session:
            row = session.get(JobRow, job_id)
            if row is None or row.state != JobState.RUNNING:
                return
            row.progress = fraction
            if message:
                row.message = message[:500]
            if metrics:
                merged = json.loads(row.metrics or "{}") | metrics
                row.metrics = json.dumps(dict(list(merged.items())[-MAX_METRICS:]))
            session.add(row)

    def finish(self, job_id: str, state: JobState, result: dict[str, Any] | None = None,
               error: str | None = None, message: str | None = None) -> None:
        """Record the end of a job once; a job that already ended keeps its first outcome."""
        with write_session(self.engine) as session:
            row = session.get(JobRow, job_id)
            if row is None or JobState(row.state).finished:
                return
            row.state, row.finished_at, row.slot = state, utcnow(), None
            if state == JobState.SUCCEEDED:
                row.progress = 1.0
            row.result = json.dumps(result) if result is not None else row.result
            row.error = error
            row.message = (message or {JobState.SUCCEEDED: "done", JobState.CANCELLED: "cancelled"}.get(
                state, "failed"))[:500]
            session.add(row)

    def cancel_requests(self, owner_pid: int) -> list[JobRow]:
        with read_session(self.engine) as session:
            return list(session.exec(select(JobRow).where(JobRow.state == JobState.RUNNING,
                                                          JobRow.owner_pid == owner_pid,
                                                          col(JobRow.cancel_requested).is_(True))).all())

    def recover(self, alive: Callable[[int], bool], kill: Callable[[int], None]) -> list[JobView]:
        """Jobs left running by a dispatcher that is gone: stop any orphaned worker, then requeue the job, or fail
        it with the reason once it has used its attempts. Nothing is left silently in `running`."""
        changed: list[str] = []
        with write_session(self.engine) as session:
            for row in session.exec(select(JobRow).where(JobRow.state == JobState.RUNNING)).all():
                if row.owner_pid is not None and alive(row.owner_pid):
                    continue
                if row.pid is not None and alive(row.pid):
                    kill(row.pid)
                if row.cancel_requested:
                    row.state, row.message = JobState.CANCELLED, "cancelled (its server restarted meanwhile)"
                    row.finished_at = utcnow()
                elif row.attempts < self.quotas.max_attempts:
                    row.state, row.message = JobState.QUEUED, f"requeued: its server restarted during attempt {row.attempts}"
                else:
                    row.state, row.finished_at = JobState.FAILED, utcnow()
                    row.error = row.message = f"its server restarted during attempt {row.attempts} (no attempts left)"
                row.slot = row.pid = row.owner_pid = None
                session.add(row)
                changed.append(row.id)
        return [self.view(job_id) for job_id in changed]
