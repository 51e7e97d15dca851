"""The dispatcher: one thread that claims queued jobs and starts each in a sandbox of its own, one per slot.

Slots are the visible GPUs (one job per GPU, given to the sandbox as its only device), or one CPU slot. A job
runs `python -I -m trainer.jobs` inside the requesting agent's sandbox and answers JSON lines on its stdout; a
reader thread per job validates them and is the only writer of that job's row. The job never sees the database.

A second thread keeps the leases (`_lease.py`): it renews this dispatcher's jobs while their readers live, stops
the sandbox of a job whose lease it lost (and writes nothing more about that job), and takes back the jobs of
dispatchers that are gone, whichever server they belonged to.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Self

from sqlalchemy import Engine

from mcp_servers.jobs._events import Cancelled, Failed, Progress, Result, bounded_lines, parse_event
from mcp_servers.jobs._lease import EXPIRE_EVERY_S, LeaseHolder, default_lease_s, kill_job_process, pid_alive
from mcp_servers.jobs._models import JobRow, JobState
from mcp_servers.jobs._queue import JobQueue
from mcp_servers.jobs._sandboxed import JobSandbox
from sandbox import Backend, SandboxHandle
from trainer.jobs import JobPayload

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


_kill_job_process = kill_job_process  # the name tests and older callers use


@dataclass
class _Running:
    handle: SandboxHandle
    thread: threading.Thread | None = None
    cancelling: bool = False
    attempt: int = 0
    lost: bool = False
    """Its lease was taken back: the sandbox is stopped and nothing more is written about the job."""
    outcome: Result | Failed | Cancelled | None = field(default=None)


class JobRunner:
    def __init__(self, queue: JobQueue, box: JobSandbox, slots: int | None = None, poll_s: float = 0.2,
                 lease_s: float | None = None) -> None:
        self.queue, self.box, self.poll_s = queue, box, poll_s
        self.holder = LeaseHolder(lease_s if lease_s is not None else default_lease_s())
        self.gpus = visible_gpus()
        self.slots = slots or max(1, len(self.gpus))
        self._running: dict[str, _Running] = {}
        self._starting: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lease_thread: threading.Thread | None = None
        self._backend: Backend | None = None
        self.node: str = f"local:{socket.gethostname()}"
        """Where this runner's jobs run, as the dashboard shows it (a Ray runner records each job's node)."""

    @property
    def engine(self) -> Engine:
        return self.queue.engine

    def start(self) -> JobRunner:
        self._backend = self.box.backend()  # refuses here, at server start, when no sandbox can run
        self.holder = LeaseHolder(self.holder.lease_s)  # this process's pid (a runner may be built before a fork)
        for job in self.queue.expire(pid_alive, kill_job_process, self.holder.space):
            log.warning("job %s at start: %s", job.id, job.message)
        self._thread = threading.Thread(target=self._loop, name="job-dispatcher", daemon=True)
        self._thread.start()
        self._lease_thread = threading.Thread(target=self._leases, name="job-leases", daemon=True)
        self._lease_thread.start()
        return self

    def stop(self, kill_running: bool = True) -> None:
        """Stop dispatching; running jobs are killed and given back to the queue (requeued within their attempts),
        so another live dispatcher may run them at once."""
        self._stop.set()
        for thread in (self._thread, self._lease_thread):
            if thread is not None:
                thread.join(timeout=5)
        if kill_running:
            with self._lock:
                running = list(self._running.values())
            for job in running:
                job.handle.stop(grace_s=2.0)
            for job in running:
                if job.thread is not None:
                    job.thread.join(timeout=5)
            for view in self.queue.release(self.holder):
                log.warning("job %s: %s", view.id, view.message)

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

    def _leases(self) -> None:
        next_renew = 0.0
        while not self._stop.wait(min(EXPIRE_EVERY_S, self.holder.heartbeat_s)):
            try:
                if time.monotonic() >= next_renew:
                    next_renew = time.monotonic() + self.holder.heartbeat_s
                    self._renew()
                for job in self.queue.expire(pid_alive, kill_job_process, self.holder.space):
                    log.warning("job %s taken back: %s", job.id, job.message)
            except Exception:  # a transient db error: the next heartbeat comes well within the lease
                log.exception("lease step failed")

    def _renew(self) -> None:
        """Renew the jobs whose readers live; a job whose lease is gone (taken back after we missed heartbeats,
        e.g. this process was stopped) has its sandbox stopped: another dispatcher owns the job now."""
        with self._lock:
            live = {job_id: r for job_id, r in self._running.items()
                    if not r.lost and (r.thread is None or r.thread.is_alive())}
            starting = list(self._starting)
        kept = self.queue.renew(self.holder, [*live, *starting])
        for job_id, running in live.items():
            if job_id not in kept and job_id in self._running:
                running.lost = True
                log.warning("job %s: lease lost to another dispatcher; stopping its sandbox", job_id)
                threading.Thread(target=running.handle.stop, kwargs={"grace_s": 2.0}, daemon=True).start()

    def _claim(self) -> tuple[JobRow, int] | None:
        """The next job, leased to this dispatcher (subclasses that dispatch elsewhere claim through this too)."""
        with self._lock:  # a job we lost but whose reader still runs is not ours to take again yet
            busy = set(self._running) | self._starting
        return self.queue.claim_next(self.slots, self.holder.pid, self.holder, exclude=busy, node=self.node)

    def _gpu(self, slot: int) -> str | None:
        return self.gpus[slot % len(self.gpus)] if self.gpus else None

    def _dispatch(self) -> None:
        while not self._stop.is_set() and (claimed := self._claim()) is not None:
            row, slot = claimed
            with self._lock:
                self._starting.add(row.id)  # renewed while the sandbox starts (a docker start may take seconds)
            try:
                handle = self.box.start(_payload(row), self._gpu(slot), self._backend)
            except Exception as exc:  # the job fails with the reason; others keep running
                log.exception("job %s: sandbox did not start", row.id)
                self.queue.finish(row.id, JobState.FAILED, error=f"its sandbox did not start: {type(exc).__name__}",
                                  owner=self.holder.owner, attempt=row.attempts)
                with self._lock:
                    self._starting.discard(row.id)
                continue
            running = _Running(handle, attempt=row.attempts)
            with self._lock:
                self._running[row.id] = running
                self._starting.discard(row.id)
            self.queue.set_pid(row.id, getattr(handle, "pid", None), owner=self.holder.owner, attempt=row.attempts)
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
                    self.queue.record_progress(job_id, event.fraction, event.message, event.metrics,
                                               owner=self.holder.owner, attempt=running.attempt)
                    pending, last_write = None, time.monotonic()
            elif event is not None and running.outcome is None:
                running.outcome = event
        if pending is not None:
            self.queue.record_progress(job_id, pending.fraction, pending.message, pending.metrics,
                                       owner=self.holder.owner, attempt=running.attempt)
        code = self._wait(running.handle)
        with self._lock:
            if self._running.get(job_id) is running:
                del self._running[job_id]
        if running.lost or (self._stop.is_set() and not running.cancelling):
            return  # taken back, or the server is stopping (stop() gives the job back to the queue)
        self._record(job_id, running, code)

    def _wait(self, handle: SandboxHandle) -> int | None:
        while True:
            try:
                return handle.wait(timeout=1.0)
            except TimeoutError:  # stdout closed but the process lives on: stop it once the server stops
                if self._stop.is_set():
                    return handle.stop(grace_s=2.0)

    def _record(self, job_id: str, running: _Running, code: int | None) -> None:
        outcome, owner, attempt = running.outcome, self.holder.owner, running.attempt
        if running.cancelling or isinstance(outcome, Cancelled):
            self.queue.finish(job_id, JobState.CANCELLED, message="cancelled while running", owner=owner,
                              attempt=attempt)
        elif isinstance(outcome, Result):
            self.queue.finish(job_id, JobState.SUCCEEDED, result=outcome.result, owner=owner, attempt=attempt)
        elif isinstance(outcome, Failed):
            self.queue.finish(job_id, JobState.FAILED, error=outcome.error, owner=owner, attempt=attempt)
        else:
            self.queue.finish(job_id, JobState.FAILED, error=f"job exited with code {code} before reporting "
                              "(out of memory or killed?)", owner=owner, attempt=attempt)

    def _cancel(self) -> None:
        for row in self.queue.cancel_requests(self.holder):
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
