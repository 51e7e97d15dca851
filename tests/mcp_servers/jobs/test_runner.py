import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mcp_servers.core import create_sqlite_engine
from mcp_servers.jobs import JobQueue, JobRunner, JobSandbox, JobState

SLEEP = "trainer.jobs.builtin:sleep_job"
pytestmark = pytest.mark.bwrap


def _wait(queue: JobQueue, job: str, states: set[JobState], timeout: float = 30.0) -> JobState:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = queue.view(job).state
        if state in states:
            return state
        time.sleep(0.05)
    raise AssertionError(f"{job} still {queue.view(job).state} after {timeout}s")


def test_jobs_run_in_sandboxes_and_report_progress_result_and_log(queue: JobQueue, box: JobSandbox,
                                                                  workspaces: Path) -> None:
    with JobRunner(queue, box, slots=1, poll_s=0.05):
        ok = queue.submit("a", "sleep", SLEEP, {"seconds": 0.2, "steps": 2}).id
        bad = queue.submit("a", "sleep", SLEEP, {"seconds": 0, "fail": "boom"}).id
        assert _wait(queue, ok, {JobState.SUCCEEDED}) and _wait(queue, bad, {JobState.FAILED})
    done = queue.view(ok, log_lines=5)
    assert done.progress == 1.0 and done.result["slept_s"] == 0.2 and done.result["pid"] != os.getpid()
    assert done.metrics == {"step": 2} and "succeeded" in (done.log_tail or "")
    assert done.run_dir == f"runs/{ok}" and (workspaces / "a" / "runs" / ok / "result.txt").is_file()
    failed = queue.view(bad, log_lines=20)
    assert failed.error == "RuntimeError: boom" and "Traceback" in (failed.log_tail or "")


def test_cancel_frees_the_slot_for_the_next_job(queue: JobQueue, box: JobSandbox) -> None:
    with JobRunner(queue, box, slots=1, poll_s=0.05):
        long = queue.submit("a", "sleep", SLEEP, {"seconds": 60, "steps": 600}).id
        _wait(queue, long, {JobState.RUNNING})
        short = queue.submit("b", "sleep", SLEEP, {"seconds": 0}).id
        time.sleep(0.3)
        assert queue.view(short).state == JobState.QUEUED
        queue.request_cancel(long, "a")
        assert _wait(queue, long, {JobState.CANCELLED}, timeout=10) == JobState.CANCELLED
        assert _wait(queue, short, {JobState.SUCCEEDED}, timeout=20) == JobState.SUCCEEDED


def test_a_job_killed_without_reporting_is_marked_failed(queue: JobQueue, box: JobSandbox) -> None:
    with JobRunner(queue, box, slots=1, poll_s=0.05):
        job = queue.submit("a", "sleep", SLEEP, {"seconds": 60, "steps": 600}).id
        _wait(queue, job, {JobState.RUNNING})
        deadline = time.monotonic() + 10
        while queue.view(job).state == JobState.RUNNING and _pid(queue, job) is None:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(_pid(queue, job), signal.SIGKILL)
        assert _wait(queue, job, {JobState.FAILED}) == JobState.FAILED
    assert "before reporting" in (queue.view(job).error or "")


def _alive(pid: int) -> bool:
    """Running: an exited process left as a zombie (reparented to a subreaper, not yet reaped) is not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] != "Z"


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
from mcp_servers.jobs import JobQueue, JobRunner, JobSandbox
db, workspaces, data = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
queue = JobQueue(create_sqlite_engine(db), workspaces_dir=workspaces)
box = JobSandbox(workspaces_dir=workspaces, data_dir=data, backend_name="bwrap")
runner = JobRunner(queue, box, slots=1, poll_s=0.05).start()
print(queue.submit("a", "sleep", "trainer.jobs.builtin:sleep_job", {"seconds": 1.0, "steps": 10}).id, flush=True)
time.sleep(600)
"""


def test_kill_9_of_the_server_mid_job_requeues_and_the_job_completes(db_path: Path, box: JobSandbox) -> None:
    proc = subprocess.Popen([sys.executable, "-c", _DISPATCHER, str(db_path), str(box.workspaces_dir),
                             str(box.data_dir)], stdout=subprocess.PIPE, text=True)
    job = proc.stdout.readline().strip()
    queue = JobQueue(create_sqlite_engine(db_path), workspaces_dir=box.workspaces_dir)
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
    with JobRunner(queue, box, slots=1, poll_s=0.05):
        assert _wait(queue, job, {JobState.SUCCEEDED}, timeout=30) == JobState.SUCCEEDED
    view = queue.view(job, log_lines=50)
    assert view.attempts == 2 and "attempt 2 started" in (view.log_tail or "")


@pytest.mark.parametrize("slots", [2])
def test_two_slots_run_two_agents_at_once(queue: JobQueue, box: JobSandbox, slots: int) -> None:
    with JobRunner(queue, box, slots=slots, poll_s=0.05):
        jobs = [queue.submit(agent, "sleep", SLEEP, {"seconds": 1.5}).id for agent in "ab"]
        for job in jobs:
            _wait(queue, job, {JobState.SUCCEEDED})
    views = [queue.view(job) for job in jobs]
    assert views[0].started_at < views[1].finished_at and views[1].started_at < views[0].finished_at


def test_jobs_see_the_sandbox_layout_and_the_slot_gpu_not_the_operators(queue: JobQueue, box: JobSandbox,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("W2S_LABEL_STORE", "/operator/labels")  # operator settings stay outside
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # thread counts pass through
    keys = ["W2S_DATA_DIR", "W2S_WORKSPACE", "W2S_LABEL_STORE", "W2S_STATE_DIR", "CUDA_VISIBLE_DEVICES",
            "OMP_NUM_THREADS", "W2S_TOKEN"]
    with JobRunner(queue, box, slots=1, poll_s=0.05) as runner:
        runner.gpus = ["7"]  # as on a GPU host: the slot's device is the sandbox's only one
        job = queue.submit("a", "env", "trainer.jobs.builtin:environment_job", {"keys": keys}).id
        assert _wait(queue, job, {JobState.SUCCEEDED, JobState.FAILED}) == JobState.SUCCEEDED, queue.view(job).error
    assert queue.view(job).result == {
        "W2S_DATA_DIR": "/w2s/data", "W2S_WORKSPACE": "/w2s/workspace", "W2S_LABEL_STORE": "/nonexistent/operator-only",
        "W2S_STATE_DIR": "/nonexistent/operator-only", "CUDA_VISIBLE_DEVICES": "7", "OMP_NUM_THREADS": "1"}


def test_recovery_kills_only_a_pid_that_is_still_a_job() -> None:
    from mcp_servers.jobs._runner import _kill_job_process

    # After a restart a recorded pid may belong to anything; an unrelated process is left alone.
    other = subprocess.Popen(["sleep", "30"])
    try:
        _kill_job_process(other.pid)
        time.sleep(0.2)
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()
