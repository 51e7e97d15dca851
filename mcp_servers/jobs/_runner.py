"""The dispatcher: one thread that starts queued jobs in worker processes, one per slot, and watches them.

Slots are the visible GPUs (one job per GPU), or one CPU slot. Workers come from a forkserver that has imported
torch and transformers once, so a job starts in well under a second instead of re-importing them.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import subprocess
import threading
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from pathlib import Path

from sqlalchemy import Engine

from mcp_servers.jobs._models import JobState
from mcp_servers.jobs._queue import JobQueue
from mcp_servers.jobs._worker import pid_alive, run_job

log = logging.getLogger(__name__)
PRELOAD: tuple[str, ...] = ("torch", "transformers", "peft")
JOB_ENV_PREFIXES: tuple[str, ...] = ("W2S_", "HF_", "TRANSFORMERS_", "TOKENIZERS_")


def visible_gpus() -> list[str]:
    """GPU ids this process may use, without importing torch (which would initialize CUDA in the server)."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [d for d in env.split(",") if d.strip() and d.strip() != "-1"]
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.TimeoutExpired):
            return []
        return [str(i) for i, line in enumerate(out.splitlines()) if line.startswith("GPU ")]
    return []


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class JobRunner:
    def __init__(self, queue: JobQueue, db_path: Path, slots: int | None = None, poll_s: float = 0.2,
                 preload: tuple[str, ...] = PRELOAD, deny: tuple[Path, ...] = ()) -> None:
        self.queue, self.db_path, self.poll_s = queue, db_path, poll_s
        self.deny = tuple(str(p) for p in deny)
        """Folders every worker refuses to open (see `_guard`)."""
        self.gpus = visible_gpus()
        self.slots = slots or max(1, len(self.gpus))
        self._ctx: ForkServerContext = multiprocessing.get_context("forkserver")  # type: ignore[assignment]
        # The worker module (and the core it imports) always loads once in the forkserver, not per job.
        self._ctx.set_forkserver_preload(["mcp_servers.jobs._worker", *preload])
        self._procs: dict[str, BaseProcess] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def engine(self) -> Engine:
        return self.queue.engine

    def start(self) -> JobRunner:
        for job in self.queue.recover(pid_alive, _kill):
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
            for proc in self._procs.values():
                proc.kill()
                proc.join(timeout=5)

    def __enter__(self) -> JobRunner:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._reap()
                self._cancel()
                self._dispatch()
            except Exception:  # keep dispatching: a transient db error must not stop every agent's jobs
                log.exception("dispatcher step failed")
            self._stop.wait(self.poll_s)

    def _job_env(self, slot: int) -> dict[str, str]:
        """The worker's environment: this dispatcher's w2s and HF settings as they are now (the forkserver kept
        the ones of its own start, which may be older), and the slot's GPU."""
        env = {k: v for k, v in os.environ.items() if k.startswith(JOB_ENV_PREFIXES)}
        env["CUDA_VISIBLE_DEVICES"] = self.gpus[slot % len(self.gpus)] if self.gpus else ""
        return env

    def _dispatch(self) -> None:
        while (claimed := self.queue.claim_next(self.slots, os.getpid())) is not None:
            job, slot = claimed
            args = (str(self.db_path), job.id, self._job_env(slot), self.deny, os.getpid())
            proc = self._ctx.Process(target=run_job, args=args,
                                     name=f"job-{job.id}", daemon=False)
            proc.start()
            self._procs[job.id] = proc
            self.queue.set_pid(job.id, proc.pid)

    def _reap(self) -> None:
        for job_id, proc in list(self._procs.items()):
            if proc.is_alive():
                continue
            proc.join()
            del self._procs[job_id]
            # The worker records its own outcome; this only catches a worker that died without one (OOM, kill -9).
            self.queue.finish(job_id, JobState.FAILED, error=f"worker exited with code {proc.exitcode} "
                              "before reporting (out of memory or killed?)")

    def _cancel(self) -> None:
        for row in self.queue.cancel_requests(os.getpid()):
            proc = self._procs.pop(row.id, None)
            if proc is not None:
                proc.terminate()
                proc.join(timeout=5)
                if proc.is_alive():
                    proc.kill()
                    proc.join()
            self.queue.finish(row.id, JobState.CANCELLED, message="cancelled while running")
