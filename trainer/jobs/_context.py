"""What a running job sees inside its sandbox: its run folder, a log, and a way to report progress."""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainer.jobs._protocol import EventWriter


class JobCancelled(Exception):
    """Raised inside a job once its cancellation arrived (SIGTERM from the dispatcher)."""


@dataclass
class JobContext:
    job_id: str
    agent: str
    workspace: Path
    """The agent's workspace as this sandbox sees it (`/w2s/workspace` under bwrap and docker)."""
    run_dir: Path
    events: EventWriter
    log: logging.Logger
    min_interval_s: float = 0.5
    """Progress is sent at most this often (the last report always lands)."""
    last_fraction: float = 0.0
    _last_sent: float = field(default=0.0, repr=False)
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    def relative(self, path: Path) -> str:
        """`path` relative to the workspace: what results carry (the host maps it, never an absolute path)."""
        return str(path.relative_to(self.workspace))

    def progress(self, fraction: float, message: str = "", metrics: dict[str, Any] | None = None,
                 force: bool = False) -> None:
        """Report progress in [0, 1]; metrics are merged into the job's latest metrics by the host."""
        now = time.monotonic()
        self.last_fraction = max(0.0, min(1.0, float(fraction)))
        if not force and now - self._last_sent < self.min_interval_s and fraction < 1.0:
            return
        self._last_sent = now
        self.events.emit("progress", fraction=self.last_fraction, message=message[:500], metrics=metrics or {})

    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check_cancelled(self) -> None:
        if self.cancelled():
            raise JobCancelled(self.job_id)

    def install_cancel_handler(self) -> None:
        """SIGTERM (what the dispatcher sends to cancel) sets the flag that `check_cancelled` raises on."""

        def on_term(signum: int, frame: object) -> None:
            if self._cancel.is_set():  # a second SIGTERM: stop now
                raise SystemExit(143)
            self._cancel.set()

        signal.signal(signal.SIGTERM, on_term)
