"""Jobs in SQLite: submit with quotas and idempotency keys, fair claiming across agents, leases, cancellation,
and taking back jobs whose dispatcher is gone.

Every read-then-write runs in `BEGIN IMMEDIATE`, so several dispatchers (the train and the predict server) may
share one queue and one set of slots without starting a job twice or overfilling a slot. A running job is leased
to one dispatcher (`_lease.py`); only the lease holder writes its progress and outcome.
"""

from __future__ import annotations

import errno
import json
import secrets
import time
from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from mcp_servers.core import (
    BeneathError,
    IdempotencyKeys,
    RefusedError,
    init_tables,
    read_beneath_bytes,
    read_session,
    request_sha256,
    workspace_of,
    write_session,
)
from mcp_servers.core._beneath import is_beneath_path
from mcp_servers.jobs._events import readable_log
from mcp_servers.jobs._lease import LeaseHolder, pid_space
from mcp_servers.jobs._models import ADDED_COLUMNS, JobKey, JobRow, JobState, JobView, utcnow
from trainer.jobs import job_kind

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LOG_TAIL_BYTES = 16384
MAX_METRICS = 64


class JobError(RefusedError):
    """A refused job operation; `problem` says what was wrong and `fix` what to do instead. A `RefusedError`, so
    `@refusals` answers it as a plain tool error (no traceback in the server's log)."""


@dataclass(frozen=True)
class Quotas:
    max_queued_per_agent: int | None = 20
    """Queued plus running jobs one agent may have; None for no limit."""
    max_running_per_agent: int | None = None
    """Slots one agent may hold at once; None lets an agent use every free slot when nobody else waits."""
    max_attempts: int = 2
    """A job whose dispatcher died (lease expired) is requeued until it has started this many times."""


_KEYS = IdempotencyKeys(
    JobKey, "job_id", JobError, "request", used_for="another request (job {ref})",
    key_fix="send a fresh random key (e.g. a uuid4) per distinct request, the same one on a retry",
    reuse_fix="send a new key for a different request; reuse a key only to retry the same call")


class JobQueue:
    def __init__(self, engine: Engine, quotas: Quotas | None = None, workspaces_dir: Path | None = None) -> None:
        self.engine = engine
        self.quotas = quotas or Quotas()
        self.workspaces_dir = workspaces_dir
        """Where agents' workspaces are; log tails are read beneath them (None: no log tails)."""
        init_tables(engine, JobRow, JobKey)
        _migrate(engine)

    def replay(self, agent: str, idempotency_key: str | None, request: dict[str, Any]) -> JobView | None:
        """The job a previous call with this key queued (None for a new key); the same key with another request is
        refused. Servers call it before validating, so a retry answers the first job even if, say, a quota is now
        full; `submit` checks again inside its transaction (two retries racing queue one job)."""
        first = _KEYS.lookup(self.engine, agent, idempotency_key, request_sha256(request))
        return self.view(first.job_id, agent) if first is not None else None

    def submit(self, agent: str, kind: str, target: str, spec: dict[str, Any], run_dir: str | None = None,
               job_id: str | None = None, idempotency_key: str | None = None,
               request: dict[str, Any] | None = None) -> JobView:
        """Queue a job whose `spec` the caller has already validated. `target` is a registered job kind (its name or
        its `trainer.jobs.job_kind(name).target`), run inside the agent's sandbox; `run_dir` is relative to the
        agent's workspace (default `runs/<job id>`).
        With `idempotency_key`, the key and a digest of `request` (the client's arguments; default the spec) are
        stored in the job's transaction, and a repeated key answers the first job instead of queueing another."""
        _KEYS.check(idempotency_key)
        job_id = job_id or f"{kind}-{secrets.token_hex(6)}"
        run_dir = run_dir if run_dir is not None else f"runs/{job_id}"
        try:  # only a registered kind runs in the sandbox: refuse anything else now, not when a runner picks it up
            target = job_kind(target).target  # a kind's name is taken too; the wire form is what is stored
        except ValueError as exc:
            raise ValueError(f"{exc} (submit a registered kind: its name or trainer.jobs.job_kind(name).target)") \
                from None
        if not is_beneath_path(run_dir):
            raise ValueError(f"run_dir {run_dir!r} must be relative to the workspace, without '..'")
        digest = request_sha256(request if request is not None else {"kind": kind, "target": target, "spec": spec})
        with write_session(self.engine) as session:
            first = _KEYS.first(session, agent, idempotency_key, digest) if idempotency_key is not None else None
            if first is None:
                self._add(session, agent, kind, target, spec, run_dir, job_id)
                if idempotency_key is not None:
                    _KEYS.record(session, agent, idempotency_key, digest, job_id=job_id)
        return self.view(first.job_id if first is not None else job_id, agent)

    def _add(self, session: Session, agent: str, kind: str, target: str, spec: dict[str, Any], run_dir: str,
             job_id: str) -> None:
        active = session.exec(
            select(JobRow.id).where(JobRow.agent == agent, col(JobRow.state).in_([JobState.QUEUED, JobState.RUNNING]))
        ).all()
        limit = self.quotas.max_queued_per_agent
        if limit is not None and len(active) >= limit:
            raise JobError(f"you already have {len(active)} queued or running jobs (limit {limit})",
                           "wait for some to finish (wait_job) or cancel some (cancel_job)")
        session.add(JobRow(id=job_id, agent=agent, kind=kind, spec=json.dumps({"target": target, "args": spec}),
                           run_dir=run_dir))

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
        return readable_log(data.decode("utf-8", errors="replace"), lines)

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

    def claim_next(self, n_slots: int, owner_pid: int, holder: LeaseHolder | None = None,
                   exclude: Collection[str] = (), node: str | None = None) -> tuple[JobRow, int] | None:
        """Start the fairest queued job if a slot is free: the agent with the fewest running jobs, then the one
        that started a job longest ago, then that agent's oldest job (round-robin across agents). The job is
        leased to `holder`, which must renew it (`renew`); without one, only `owner_pid`'s life counts (as before
        leases: such a job is taken back when that pid is gone, never on time). `exclude`: jobs the caller still
        has a reader for (an attempt it lost): it must not take them again until that reader has ended."""
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
            candidates = [r for r in queued if (cap is None or holding[r.agent] < cap) and r.id not in exclude]
            if not candidates:
                return None
            job = min(candidates, key=lambda r: (holding[r.agent], last_start.get(r.agent, _EPOCH),
                                                 r.created_at))
            job.state, job.slot, job.owner_pid = JobState.RUNNING, free[0], owner_pid
            job.owner_space = holder.space if holder is not None else pid_space()
            if holder is not None:
                job.lease_owner, job.lease_until = holder.owner, time.time() + holder.lease_s
            job.started_at, job.attempts, job.message = utcnow(), job.attempts + 1, "starting"
            job.node = node
            session.add(job)
        return job, free[0]

    def set_node(self, job_id: str, node: str, owner: str | None = None) -> None:
        """Record where the running attempt runs (a Ray task learns its node once it starts there)."""
        with write_session(self.engine) as session:
            row = session.get(JobRow, job_id)
            if row is not None and _holds(row, owner, None):
                row.node = node[:200]
                session.add(row)

    def set_pid(self, job_id: str, pid: int | None, owner: str | None = None, attempt: int | None = None) -> None:
        with write_session(self.engine) as session:
            row = session.get(JobRow, job_id)
            if row is not None and _holds(row, owner, attempt):
                row.pid = pid
                session.add(row)

    def renew(self, holder: LeaseHolder, job_ids: list[str]) -> set[str]:
        """Extend `holder`'s leases on `job_ids`; answers the ids it still holds (a job missing from the answer was
        taken back: its dispatcher must stop that job's sandbox and write nothing more about it)."""
        if not job_ids:
            return set()
        with write_session(self.engine) as session:
            rows = session.exec(select(JobRow).where(col(JobRow.id).in_(job_ids), JobRow.state == JobState.RUNNING,
                                                     JobRow.lease_owner == holder.owner)).all()
            until = time.time() + holder.lease_s
            for row in rows:
                row.lease_until = until
                session.add(row)
            return {row.id for row in rows}

    def record_progress(self, job_id: str, fraction: float, message: str, metrics: dict[str, Any],
                        owner: str | None = None, attempt: int | None = None) -> None:
        """What a running job reported (already validated and bounded by the dispatcher); with `owner`, only while
        that dispatcher still holds the job's lease (and with `attempt`, for that attempt)."""
        with write_session(self.engine) as session:
            row = session.get(JobRow, job_id)
            if row is None or row.state != JobState.RUNNING or not _holds(row, owner, attempt):
                return
            row.progress = fraction
            if message:
                row.message = message[:500]
            if metrics:
                merged = json.loads(row.metrics or "{}") | metrics
                row.metrics = json.dumps(dict(list(merged.items())[-MAX_METRICS:]))
            session.add(row)

    def finish(self, job_id: str, state: JobState, result: dict[str, Any] | None = None,
               error: str | None = None, message: str | None = None, owner: str | None = None,
               attempt: int | None = None) -> bool:
        """Record the end of a job once; a job that already ended keeps its first outcome. With `owner`, only the
        lease holder of a running job records it (a job taken back from a dispatcher is not that one's to end)."""
        with write_session(self.engine) as session:
            row = session.get(JobRow, job_id)
            if row is None or JobState(row.state).finished:
                return False
            if (owner is not None or attempt is not None) and (row.state != JobState.RUNNING
                                                               or not _holds(row, owner, attempt)):
                return False
            row.state, row.finished_at, row.slot = state, utcnow(), None
            row.lease_owner = row.lease_until = None
            if state == JobState.SUCCEEDED:
                row.progress = 1.0
            row.result = json.dumps(result) if result is not None else row.result
            row.error = error
            row.message = (message or {JobState.SUCCEEDED: "done", JobState.CANCELLED: "cancelled"}.get(
                state, "failed"))[:500]
            session.add(row)
        return True

    def cancel_requests(self, owner: int | LeaseHolder) -> list[JobRow]:
        """Running jobs of this dispatcher (a holder; or any of a process, by pid) whose cancel was asked for."""
        where = JobRow.owner_pid == owner if isinstance(owner, int) else JobRow.lease_owner == owner.owner
        with read_session(self.engine) as session:
            return list(session.exec(select(JobRow).where(JobRow.state == JobState.RUNNING, where,
                                                          col(JobRow.cancel_requested).is_(True))).all())

    def recover(self, alive: Callable[[int], bool], kill: Callable[[int], None],
                space: str | None = None) -> list[JobView]:
        """Jobs whose dispatcher is gone, taken back now (see `expire`); kept for callers of the old name."""
        return self.expire(alive, kill, space)

    def expire(self, alive: Callable[[int], bool], kill: Callable[[int], None], space: str | None = None,
               now: float | None = None) -> list[JobView]:
        """Take back running jobs whose dispatcher is gone: the lease ran out, or the owner's pid is in our pid
        space (`space`, default this process's) and dead. Any orphaned sandbox we can see is
        killed, then the job is requeued, or failed with the reason once it has used its attempts. Nothing is left
        silently in `running`, and a live dispatcher's job is never touched before its lease ends."""
        now = time.time() if now is None else now
        space = space if space is not None else pid_space()
        running = select(JobRow).where(JobRow.state == JobState.RUNNING)
        with read_session(self.engine) as session:  # every dispatcher scans each second: write only when needed
            if not any(_gone(row, space, now, alive) for row in session.exec(running).all()):
                return []
        changed: list[str] = []
        with write_session(self.engine) as session:
            for row in session.exec(running).all():
                why = _gone(row, space, now, alive)
                if why is None:
                    continue
                if row.pid is not None and row.owner_space in (None, space) and alive(row.pid):
                    kill(row.pid)
                self._take_back(row, why)
                session.add(row)
                changed.append(row.id)
        return [self.view(job_id) for job_id in changed]

    def release(self, holder: LeaseHolder) -> list[JobView]:
        """Give back every job `holder` still runs (its server is stopping and has stopped their sandboxes)."""
        changed: list[str] = []
        with write_session(self.engine) as session:
            for row in session.exec(select(JobRow).where(JobRow.state == JobState.RUNNING,
                                                         JobRow.lease_owner == holder.owner)).all():
                self._take_back(row, "its server stopped")
                session.add(row)
                changed.append(row.id)
        return [self.view(job_id) for job_id in changed]

    def _take_back(self, row: JobRow, why: str) -> None:
        if row.cancel_requested:
            row.state, row.message = JobState.CANCELLED, f"cancelled ({why} meanwhile)"
            row.finished_at = utcnow()
        elif row.attempts < self.quotas.max_attempts:
            row.state, row.message = JobState.QUEUED, f"requeued: {why} during attempt {row.attempts}"
        else:
            row.state, row.finished_at = JobState.FAILED, utcnow()
            row.error = row.message = f"{why} during attempt {row.attempts} (no attempts left)"
        row.slot = row.pid = row.owner_pid = row.lease_owner = row.lease_until = row.owner_space = None


def _holds(row: JobRow, owner: str | None, attempt: int | None) -> bool:
    """The row is still `owner`'s lease on `attempt` (None: not checked). The attempt matters when a dispatcher
    lost a job and claimed it again: the old attempt's late outcome must not land on the new one."""
    return (owner is None or row.lease_owner == owner) and (attempt is None or row.attempts == attempt)


def _gone(row: JobRow, space: str, now: float, alive: Callable[[int], bool]) -> str | None:
    """Why a running job's dispatcher counts as gone, or None while it lives."""
    same_space = row.owner_space is None or row.owner_space == space
    owner_dead = row.owner_pid is None or (same_space and not alive(row.owner_pid))
    if owner_dead:  # no need to wait for the lease; rows without a lease (claimed without a holder) only this way
        return "its server died or restarted"
    if row.lease_until is not None and row.lease_until < now:  # hung, a zombie's pid reused, or another host's
        return "its server's lease expired"
    return None


def _migrate(engine: Engine) -> None:
    """Add the columns of `ADDED_COLUMNS` to a jobs table created before them (several servers may race to do it)."""
    with engine.begin() as conn:
        have = {r[1] for r in conn.exec_driver_sql("PRAGMA table_info(job)").fetchall()}
        for name, sql_type in ADDED_COLUMNS.items():
            if name in have:
                continue
            try:
                conn.exec_driver_sql(f"ALTER TABLE job ADD COLUMN {name} {sql_type}")
            except OperationalError as exc:  # another server added it between our check and the ALTER
                if "duplicate column" not in str(exc):
                    raise
        conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_job_lease_owner ON job (lease_owner)")
