"""The body of a worker process: run one job, write its outcome, never raise."""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from pathlib import Path

from mcp_servers.core import create_sqlite_engine, read_session
from mcp_servers.jobs._context import JobCancelled, JobContext
from mcp_servers.jobs._guard import deny_paths
from mcp_servers.jobs._kinds import load_job_function
from mcp_servers.jobs._models import JobRow, JobState
from mcp_servers.jobs._queue import JobQueue


def run_job(db_path: str, job_id: str, device_env: dict[str, str], deny: tuple[str, ...] = ()) -> None:
    """Entry point in the child: its stdout, stderr and log go to `<run_dir>/log.txt`."""
    os.environ.update(device_env)  # before the job touches CUDA, so each slot sees only its own GPU
    if deny:
        deny_paths(Path(p) for p in deny)  # audit hooks do not cross into the forkserver's children
    engine = create_sqlite_engine(Path(db_path), pooled=False)
    queue = JobQueue(engine)
    with read_session(engine) as session:
        row = session.get(JobRow, job_id)
    if row is None:
        return
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
