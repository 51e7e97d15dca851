"""The body of a worker process: run one job, write its outcome, never raise."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
import traceback
from pathlib import Path

from sqlalchemy import Engine

from mcp_servers.core import create_sqlite_engine, read_session
from mcp_servers.jobs._context import JobCancelled, JobContext
from mcp_servers.jobs._guard import deny_paths
from mcp_servers.jobs._kinds import load_job_function
from mcp_servers.jobs._models import JobRow, JobState
from mcp_servers.jobs._queue import JobQueue


def _watchdog(engine: Engine, job_id: str, owner_pid: int, interval_s: float = 1.0) -> None:
    """Exit when the dispatcher that started this worker is gone or the job is no longer ours to run.

    A worker is a child of the forkserver, not of the dispatcher, so it outlives a kill -9 of the server; without
    this it would keep burning its slot while the restarted server reruns the same job.
    """
    while True:
        time.sleep(interval_s)
        try:
            with read_session(engine) as session:
                row = session.get(JobRow, job_id)
        except Exception:  # noqa: BLE001 (a busy db is not a reason to stop)
            continue
        if not pid_alive(owner_pid) or row is None or row.state != JobState.RUNNING or row.owner_pid != owner_pid:
            os._exit(3)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_job(db_path: str, job_id: str, job_env: dict[str, str], deny: tuple[str, ...] = (),
            owner_pid: int | None = None) -> None:
    """Entry point in the child: its stdout, stderr and log go to `<run_dir>/log.txt`."""
    for key in [k for k in os.environ if k.startswith("W2S_") and k not in job_env]:
        del os.environ[key]  # settings the dispatcher no longer has must not linger from the forkserver's start
    os.environ.update(job_env)  # before the job touches CUDA, so each slot sees only its own GPU
    if deny:
        deny_paths(Path(p) for p in deny)  # audit hooks do not cross into the forkserver's children
    engine = create_sqlite_engine(Path(db_path), pooled=False)
    queue = JobQueue(engine)
    queue.set_pid(job_id, os.getpid())  # also from here: the dispatcher may die before it records the pid
    with read_session(engine) as session:
        row = session.get(JobRow, job_id)
    if row is None:
        return
    if owner_pid is not None:
        threading.Thread(target=_watchdog, args=(engine, job_id, owner_pid), daemon=True, name="watchdog").start()
    run_dir = Path(row.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    log_file = open(run_dir / "log.txt", "a", buffering=1, encoding="utf-8")  # noqa: SIM115 (lives as long as the process)
    os.dup2(log_file.fileno(), 1)
    os.dup2(log_file.fileno(), 2)
    sys.stdout = sys.stderr = log_file
    log = logging.getLogger(f"job.{job_id}")
    handler = logging.StreamHandler(log_file)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    spec = json.loads(row.spec)
    ctx = JobContext(job_id=job_id, agent=row.agent, run_dir=run_dir, engine=engine, log=log)
    log.info("job %s (%s) attempt %d started", job_id, row.kind, row.attempts)
    try:
        result = load_job_function(spec["target"])(spec["args"], ctx)
    except JobCancelled:
        queue.finish(job_id, JobState.CANCELLED)
    except BaseException as exc:  # noqa: BLE001 (a job's failure is data, reported to its owner)
        log.error("failed:\n%s", traceback.format_exc())
        queue.finish(job_id, JobState.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000])
    else:
        ctx.progress(1.0, "done", force=True)
        queue.finish(job_id, JobState.SUCCEEDED, result=result)
        log.info("job %s succeeded", job_id)
    finally:
        log_file.flush()
