"""What a running job sees: its run folder, a log, and a way to report progress and metrics."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import select

from mcp_servers.core import write_session
from mcp_servers.jobs._models import JobRow


class JobCancelled(Exception):
    """Raised inside a job when its cancellation was requested (jobs may check `ctx.cancelled()`)."""


@dataclass
class JobContext:
    job_id: str
    agent: str
    run_dir: Path
    engine: Engine
    log: logging.Logger
    min_interval_s: float = 0.5
    """Progress is written at most this often (the last report always lands)."""
    last_fraction: float = 0.0
    """The fraction most recently reported."""
    _last_write: float = field(default=0.0, repr=False)

    def progress(self, fraction: float, message: str = "", metrics: dict[str, Any] | None = None,
                 force: bool = False) -> None:
        """Record progress in [0, 1]; metrics are merged into the job's latest metrics."""
        now = time.monotonic()
        self.last_fraction = max(0.0, min(1.0, float(fraction)))
        if not force and now - self._last_write < self.min_interval_s and fraction < 1.0:
            return
        self._last_write = now
        with write_session(self.engine) as session:
            row = session.get(JobRow, self.job_id)
            if row is None:
                return
            row.progress = max(0.0, min(1.0, float(fraction)))
            if message:
                row.message = message[:500]
            if metrics:
                row.metrics = json.dumps(json.loads(row.metrics or "{}") | _jsonable(metrics))
            session.add(row)

    def cancelled(self) -> bool:
        with write_session(self.engine) as session:
            flag = session.exec(select(JobRow.cancel_requested).where(JobRow.id == self.job_id)).first()
        return bool(flag)

    def check_cancelled(self) -> None:
        if self.cancelled():
            raise JobCancelled(self.job_id)


def _jsonable(metrics: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(metrics, default=str))
