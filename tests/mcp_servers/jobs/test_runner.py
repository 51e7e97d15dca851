import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mcp_servers.core import create_sqlite_engine
from mcp_servers.jobs import JobQueue, JobRunner, JobState

SLEEP = "mcp_servers.jobs.builtin:sleep_job"


def _wait(queue: JobQueue, job: str, states: set[JobState], timeout: float = 30.0) -> JobState:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = queue.view(job).state
        if state in states:
            return state
        time.sleep(0.05)
    raise AssertionError(f"{job} still {queue.view(job).state} after {timeout}s")


def test_jobs_run_in_workers_and_report_progress_result_and_log(queue: JobQueue, db_path: Path,
                                                               tmp_path: Path) -> None:
    with JobRunner(queue, db_path, slots=1, poll_s=0.05, preload=()):
        ok = queue.submit("a", "sleep", SLEEP, {"seconds": 0.2, "steps": 2}, tmp_path / "ok").id
        bad = queue.submit("a", "sleep", SLEEP, {"seconds": 0, "fail": "boom"}, tmp_path / "bad").id
        assert _wait(queue, ok, {JobState.SUCCEEDED}) and _wait(queue, bad, {JobState.FAILED})
    done = queue.view(ok, log_lines=5)
    assert done.progress == 1.0 and done.result["slept_s"] == 0.2 and done.result["pid"] != os.getpid()
    assert done.metrics == {"step": 2} and "succeeded" in (done.log_tail or "")
    assert (tmp_path / "ok" / "result.txt").is_file()
    failed = queue.view(bad, log_lines=20)
    assert failed.error == "RuntimeError: boom" and "Traceback" in (failed.log_tail or "")


def test_cancel_frees_the_slot_for_the_next_job(queue: JobQueue, db_path: Path, tmp_path: Path) -> None:
    with JobRunner(queue, db_path, slots=1, poll_s=0.05, preload=()):
        long = queue.submit("a", "sleep", SLEEP, {"seconds": 60, "steps": 600}, tmp_path / "long").id
        _wait(queue, long, {JobState.RUNNING})
        short = queue.submit("b", "sleep", SLEEP, {"seconds": 0}, tmp_path / "short").id
        time.sleep(0.3)
        assert queue.view(short).state == JobState.QUEUED
        queue.request_cancel(long, "a")
        assert _wait(queue, long, {JobState.CANCELLED}, timeout=10) == JobState.CANCELLED
        assert _wait(queue, short, {JobState.SUCCEEDED}, timeout=20) == JobState.SUCCEEDED


def test_a_worker_killed_without_reporting_is_marked_failed(queue: JobQueue, db_path: Path,
                                                          tmp_path: Path) -> None:
    with JobRunner(queue, db_path, slots=1, poll_s=0.05, preload=()):
        job = queue.submit("a", "sleep", SLEEP, {"seconds": 60, "steps": 600}, tmp_path / "j").id
        _wait(queue, job, {JobState.RUNNING})
        deadline = time.monotonic() + 10
        while queue.view(job).state == JobState.RUNNING and _pid(queue, job) is None:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(_pid(queue, job), signal.SIGKILL)
        assert _wait(queue, job, {JobState.FAILED}) == JobState.FAILED
    assert "before reporting" in (queue.view(job).error or "")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _pid(queue: JobQueue, job: str) -> int | None:
    from mcp_servers.core import read_session
    from mcp_servers.jobs import JobRow

    with read_session(queue.engine) as session:
        row = session.get(JobRow, job)
    return row.pid if row else None


_DISPATCHER = """
import sys, time
from pathlib import Path
from mcp_servers.core import create_sqlite_engine
from mcp_servers.jobs import JobQueue, JobRunner
db = Path(sys.argv[1])
queue = JobQueue(create_sqlite_engine(db))
runner = JobRunner(queue, db, slots=1, poll_s=0.05, preload=()).start()
print(queue.submit("a", "sleep", "mcp_servers.jobs.builtin:sleep_job", {"seconds": 1.0, "steps": 10},
                   Path(sys.argv[2])).id, flush=True)
time.sleep(600)
"""


def test_kill_9_of_the_server_mid_job_requeues_and_the_job_completes(db_path: Path, tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", _DISPATCHER, str(db_path), str(tmp_path / "run")],
                            stdout=subprocess.PIPE, text=True)
    job = proc.stdout.readline().strip()
    queue = JobQueue(create_sqlite_engine(db_path))
    _wait(queue, job, {JobState.RUNNING})
    deadline = time.monotonic() + 10
    while (worker := _pid(queue, job)) is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    assert queue.view(job).state == JobState.RUNNING  # what the dead server left behind
    deadline = time.monotonic() + 10
    while _alive(worker):  # the orphaned worker notices its dispatcher is gone and stops
        assert time.monotonic() < deadline, "orphaned worker still running"
        time.sleep(0.1)
    with JobRunner(queue, db_path, slots=1, poll_s=0.05, preload=()):
        assert _wait(queue, job, {JobState.SUCCEEDED}, timeout=30) == JobState.SUCCEEDED
    view = queue.view(job, log_lines=50)
    assert view.attempts == 2 and "attempt 2 started" in (view.log_tail or "")


@pytest.mark.parametrize("slots", [2])
def test_two_slots_run_two_agents_at_once(queue: JobQueue, db_path: Path, tmp_path: Path, slots: int) -> None:
    with JobRunner(queue, db_path, slots=slots, poll_s=0.05, preload=()):
        jobs = [queue.submit(agent, "sleep", SLEEP, {"seconds": 1.0}, tmp_path / agent).id for agent in "ab"]
        for job in jobs:
            _wait(queue, job, {JobState.SUCCEEDED})
    views = [queue.view(job) for job in jobs]
    assert views[0].started_at < views[1].finished_at and views[1].started_at < views[0].finished_at


def test_workers_see_the_dispatchers_current_w2s_settings(queue: JobQueue, db_path: Path, tmp_path: Path,
                                                         monkeypatch) -> None:
    # The forkserver may have started long ago under other settings (another server, another test).
    monkeypatch.setenv("W2S_HOME", str(tmp_path / "now"))
    with JobRunner(queue, db_path, slots=1, poll_s=0.05, preload=()):
        job = queue.submit("a", "env", "mcp_servers.jobs.builtin:environment_job", {"keys": ["W2S_HOME"]},
                           tmp_path / "env").id
        assert _wait(queue, job, {JobState.SUCCEEDED, JobState.FAILED}) == JobState.SUCCEEDED, queue.view(job).error
    assert queue.view(job).result == {"W2S_HOME": str(tmp_path / "now")}
