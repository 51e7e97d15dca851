"""`python -I -m trainer.jobs`: run one job inside its sandbox (payload on stdin, events on stdout).

Started by the compute servers' dispatcher, never by hand. `-I` keeps the workspace (the cwd) and PYTHON*
variables off the import path, so an agent's planted `trainer/` cannot stand in for this code.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import IO

from trainer.jobs._artifacts import use_own_artifacts
from trainer.jobs._context import JobCancelled, JobContext
from trainer.jobs._fs import make_dirs_nofollow
from trainer.jobs._kinds import job_kind
from trainer.jobs._protocol import EventWriter, JobPayload


def _watch_parent(interval_s: float = 1.0) -> None:
    """Exit when the process that started this job is gone (the `none` backend has no --die-with-parent)."""
    parent = os.getppid()
    while True:
        time.sleep(interval_s)
        if os.getppid() != parent:
            os._exit(3)


def _open_log(run_dir: Path) -> IO[str]:
    fd = os.open(run_dir / "log.txt", os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    return os.fdopen(fd, "a", buffering=1, encoding="utf-8", errors="replace")


def main() -> int:
    events = EventWriter(os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8"))
    try:
        payload = JobPayload.loads(sys.stdin.buffer.read())
        workspace = Path(os.environ["W2S_WORKSPACE"])
        run_dir = make_dirs_nofollow(workspace, payload.run_dir)
        log_file = _open_log(run_dir)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        events.emit("failed", error=f"the job could not start: {exc}")
        return 2
    sys.stdout = sys.stderr = log_file
    handler = logging.StreamHandler(log_file)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    log = logging.getLogger(f"job.{payload.job_id}")
    threading.Thread(target=_watch_parent, daemon=True, name="parent-watch").start()
    ctx = JobContext(job_id=payload.job_id, agent=payload.agent, workspace=workspace, run_dir=run_dir,
                     events=events, log=log)
    ctx.install_cancel_handler()
    log.info("job %s (%s) attempt %d started", payload.job_id, payload.kind, payload.attempt)
    try:
        use_own_artifacts(workspace)
        result = job_kind(payload.target).run(payload.args, ctx)
    except JobCancelled:
        log.info("job %s cancelled", payload.job_id)
        events.emit("cancelled")
    except BaseException as exc:  # noqa: BLE001 (a job's failure is data, reported to its owner)
        log.error("failed:\n%s", traceback.format_exc())
        events.emit("failed", error=f"{type(exc).__name__}: {exc}"[:2000])
    else:
        ctx.progress(1.0, "done", force=True)
        events.emit("result", result=result)
        log.info("job %s succeeded", payload.job_id)
    finally:
        log_file.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
