"""The jobs table and its public view."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel
from pydantic import Field as PydanticField
from sqlmodel import Field, SQLModel


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


JobKind = Literal["train", "predict"]
"""The kinds of job an agent can start over MCP (start_training, predict); `list_jobs` filters by these."""

CancelOutcome = Literal["cancelled", "cancelling", "already_finished"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class JobRow(SQLModel, table=True):
    __tablename__ = "job"

    id: str = Field(primary_key=True)
    agent: str = Field(index=True)
    kind: str = Field(index=True)
    """A registered job kind (`train`, `predict`)."""
    spec: str
    """JSON arguments of the job function, validated before the job was queued."""
    state: str = Field(default=JobState.QUEUED, index=True)
    run_dir: str
    """Where the job writes its log, metrics and artifacts, relative to the agent's workspace (`runs/<job id>`)."""
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    attempts: int = 0
    progress: float = 0.0
    message: str = ""
    metrics: str = "{}"
    """JSON of the latest metrics the job reported."""
    result: str | None = None
    error: str | None = None
    slot: int | None = None
    pid: int | None = None
    owner_pid: int | None = None
    """The dispatcher process that started it; a restart finds jobs whose owner is gone."""
    cancel_requested: bool = False
    lease_owner: str | None = Field(default=None, index=True)
    """The dispatcher instance holding the running job (`<pid space>/<pid>/<nonce>`); only it writes the row."""
    lease_until: float | None = None
    """Unix time the lease ends unless its dispatcher renews it; any live dispatcher requeues the job after."""
    owner_space: str | None = None
    """Boot id and pid namespace of the owner: its pid means something (alive, kill) only in the same space."""
    node: str | None = None
    """Where the running attempt runs, for the operator's dashboard: `local:<host>` or `ray:<node>`."""


ADDED_COLUMNS: dict[str, str] = {"lease_owner": "VARCHAR", "lease_until": "FLOAT", "owner_space": "VARCHAR",
                                 "node": "VARCHAR"}
"""Columns added after the first jobs databases were created (migrated by `JobQueue`)."""


class JobKey(SQLModel, table=True):
    """A client's idempotency key for a job request: a retry with the same key answers the first job."""

    __tablename__ = "job_idempotency"

    agent: str = Field(primary_key=True)
    key: str = Field(primary_key=True)
    request_sha256: str
    job_id: str


class JobView(BaseModel):
    """What a client sees of a job."""

    id: str
    agent: str
    kind: str
    state: JobState
    progress: float = PydanticField(description="fraction done in [0, 1]")
    message: str
    metrics: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    run_dir: str = PydanticField(description="the job's folder, relative to your workspace")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int
    queue_position: int | None = PydanticField(default=None, description="jobs ahead of this one, when queued")
    log_tail: str | None = PydanticField(default=None, description="last lines of the job's log (progress bars and "
                                                                  "terminal escape codes left out)")
    cancel_requested: bool = PydanticField(default=False, description="a cancel was asked for while it ran; it "
                                                                      "stops within a second")

    @classmethod
    def of(cls, row: JobRow, queue_position: int | None = None, log_tail: str | None = None) -> JobView:
        return cls(
            id=row.id, agent=row.agent, kind=row.kind, state=JobState(row.state), progress=row.progress,
            message=row.message, metrics=json.loads(row.metrics or "{}"),
            result=json.loads(row.result) if row.result else None, error=row.error,
            run_dir=row.run_dir if not row.run_dir.startswith("/") else f"runs/{row.id}",  # rows stored before run dirs were relative
            created_at=row.created_at, started_at=row.started_at, finished_at=row.finished_at,
            attempts=row.attempts, queue_position=queue_position, log_tail=log_tail,
            cancel_requested=bool(row.cancel_requested) and not JobState(row.state).finished,
        )


class CancelView(JobView):
    """What `cancel_job` answers: the job after the cancel, and what the cancel did."""

    cancel: CancelOutcome = PydanticField(description="cancelled: it will not run (it was queued); cancelling: it was "
                                                      "running and stops within a second (wait_job follows it); "
                                                      "already_finished: it had ended, nothing changed")
