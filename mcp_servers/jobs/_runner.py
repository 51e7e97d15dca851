"""The dispatcher: one thread that claims queued jobs and starts each in a sandbox of its own, one per slot.

Slots are the visible GPUs (one job per GPU, given to the sandbox as its only device), or one CPU slot. A job
runs `python -I -m trainer.jobs` inside the requesting agent's sandbox and answers JSON lines on its stdout; a
reader thread per job validates them and is the only writer of that job's row. The job never sees the database.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from sqlalchemy import Engine

from mcp_servers.jobs._events import Cancelled, Failed, Progress, Result, bounded_lines, parse_event
from mcp_servers.jobs._models import JobRow, JobState
from mcp_servers.jobs._queue import JobQueue
from mcp_servers.jobs._sandboxed import JobSandbox
from sandbox import Backend, SandboxHandle
from trainer.jobs._protocol import JobPayload

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 0.5
"""The host writes a job's progress at most this often, whatever the job prints."""


def visible_gpus() -> list[str]:
    """GPU ids this process may use, without importing torch (which would initialize CUDA in the server)."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [d for d in env.split(",") if d.strip() and d.strip() != "-1"]
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "-L"], check=False, capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.TimeoutExpired):
            return []
        return [str(i) for i, line in enumerate(out.splitlines()) if line.startswith("GPU ")]
    return []


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_job_process(pid: int) -> None:
    """Kill an orphaned job's sandbox, but only if that pid is still one (pids are reused after a restart)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return
    if not any(mark in cmdline for mark in (b"trainer.jobs", b"bwrap", b"sandbox/_launch.py")):
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@dataclass
class _Running:
    handle: SandboxHandle
    thread: threading.Thread | None = None
    cancelling: bool = False
    outcome: Result | Failed | Cancelled | None = field(default=None)


class JobRunner:
    def __init__(self, queue: JobQueue, box: JobSandbox, slots: int | None = None, poll_s: float = 0.2) -> None:
        self.queue, self.box, self.poll_s = queue, box, poll_s
        self.gpus = visible_gpus()
        self.slots = slots or max(1, len(self.gpus))
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._backend: Backend | None = None

    @property
    def engine(self) -> Engine:
        return self.queue.engine

    def start(self) -> JobRunner:
        self._backend = self.box.backend()  # refuses here, at server start, when no sandbox can run
        for job in self.queue.recover(pid_alive, _kill_job_process):
            log.warning("job %s after restart: %s", job.id, job.message)
        self._thread = threading.Thread(target=self._loop, name="job-dispatcher", daemon=True)
        self._thread.start()
        return self

    def stop(self, kill_running: bool = True) -> None:
        """Stop dispatching; running jobs are killed and left for `recover` to requeue on the next start."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if kill_running:
            with self._lock:
                running = list(self._running.values())
            for job in running:
                job.handle.stop(grace_s=2.0)
            for job in running:
                if job.thread is not None:
                    job.thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._cancel()
                self._dispatch()
            except Exception:  # keep dispatching: a transient db error must not stop every agent's jobs
                log.exception("dispatcher step failed")
            self._stop.wait(self.poll_s)

    def _gpu(self, slot: int) -> str | None:
        return self.gpus[slot % len(self.gpus)] if self.gpus else None

    def _dispatch(self) -> None:
        while not self._stop.is_set() and (claimed := self.queue.claim_next(self.slots, os.getpid())) is not None:
            row, slot = claimed
            try:
                handle = self.box.start(_payload(row), self._gpu(slot), self._backend)
            except Exception as exc:  # the job fails with the reason; others keep running
                log.exception("job %s: sandbox did not start", row.id)
                self.queue.finish(row.id, JobState.FAILED, error=f"its sandbox did not start: {type(exc).__name__}")
                continue
            running = _Running(handle)
            with self._lock:
                self._running[row.id] = running
            self.queue.set_pid(row.id, getattr(handle, "pid", None))
            running.thread = threading.Thread(target=self._follow, args=(row.id, running), daemon=True,
                                              name=f"job-{row.id}")
            running.thread.start()

    def _follow(self, job_id: str, running: _Running) -> None:
        """Read the job's events until its stdout closes, then record its one outcome."""
        pending: Progress | None = None  # events not yet written, merged (metrics add up, the last message wins)
        last_write = 0.0
        for line in bounded_lines(running.handle):
            event = parse_event(line)
            if isinstance(event, Progress):
                if pending is not None:
                    event.metrics = pending.metrics | event.metrics
                    event.message = event.message or pending.message
                pending = event
                if time.monotonic() - last_write >= PROGRESS_EVERY_S:
                    self.queue.record_progress(job_id, event.fraction, event.message, event.metrics)
                    pending, last_write = None, time.monotonic()
            elif event is not None and running.outcome is None:
                running.outcome = event
        if pending is not None:
            self.queue.record_progress(job_id, pending.fraction, pending.message, pending.metrics)
        code = self._wait(running.handle)
        with self._lock:
            self._running.pop(job_id, None)
        if self._stop.is_set() and not running.cancelling:
            return  # the server is stopping: the job stays `running` for recover() on the next start
        self._record(job_id, running, code)

    def _wait(self, handle: SandboxHandle) -> int | None:
        while True:
            try:
                return handle.wait(timeout=1.0)
            except TimeoutError:  # stdout closed but the process lives on: stop it once the server stops
                if self._stop.is_set():
                    return handle.stop(grace_s=2.0)

    def _record(self, job_id: str, running: _Running, code: int | None) -> None:
        outcome = running.outcome
        if running.cancelling or isinstance(outcome, Cancelled):
            self.queue.finish(job_id, JobState.CANCELLED, message="cancelled while running")
        elif isinstance(outcome, Result):
            self.queue.finish(job_id, JobState.SUCCEEDED, result=outcome.result)
        elif isinstance(outcome, Failed):
            self.queue.finish(job_id, JobState.FAILED, error=outcome.error)
        else:
            self.queue.finish(job_id, JobState.FAILED, error=f"job exited with code {code} before reporting "
                              "(out of memory or killed?)")

    def _cancel(self) -> None:
        for row in self.queue.cancel_requests(os.getpid()):
            with self._lock:
                running = self._running.get(row.id)
            if running is None:  # another dispatcher in this process runs it, or it is ending: its reader records it
                continue
            if not running.cancelling:
                running.cancelling = True
                running.handle.stop(grace_s=5.0)


def _payload(row: JobRow) -> JobPayload:
    spec = json.loads(row.spec)
    return JobPayload(job_id=row.id, agent=row.agent, kind=row.kind, target=spec["target"], args=spec["args"],
                      run_dir=row.run_dir, attempt=row.attempts)
