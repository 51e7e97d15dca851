"""Leases: a job's liveness does not depend on one dispatcher. Real SQLite, real bwrap sandboxes, real dispatcher
processes (SIGSTOP stands in for a hung or zombie dispatcher: alive, renewing nothing)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mcp_servers.core import create_sqlite_engine, read_session, write_session
from mcp_servers.jobs import JobQueue, JobRow, JobRunner, JobSandbox, JobState, Quotas
from mcp_servers.jobs._lease import LeaseHolder, default_lease_s, pid_alive

SLEEP = "trainer.jobs.builtin:sleep_job"


def _row(queue: JobQueue, job: str) -> JobRow:
    with read_session(queue.engine) as session:
        row = session.get(JobRow, job)
    assert row is not None
    return row


def _wait_for(predicate, timeout: float, what: str, step: float = 0.05) -> float:
    start = time.monotonic()
    while not predicate():
        assert time.monotonic() - start < timeout, f"{what} not within {timeout}s"
        time.sleep(step)
    return time.monotonic() - start


def test_a_zombie_counts_as_dead_and_a_live_process_as_alive() -> None:
    zombie = subprocess.Popen(["true"])
    _wait_for(lambda: Path(f"/proc/{zombie.pid}/stat").read_text().split(") ")[1][0] == "Z", 10, "zombie")
    try:
        assert not pid_alive(zombie.pid)  # unreaped, like a server nobody waited for: signal 0 still succeeds
        assert pid_alive(os.getpid())
    finally:
        zombie.wait()
    assert not pid_alive(zombie.pid)


def test_lease_length_from_the_environment_and_bad_values_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("W2S_COMPUTE_LEASE_S", raising=False)
    assert default_lease_s() == 10.0
    monkeypatch.setenv("W2S_COMPUTE_LEASE_S", "4.5")
    assert default_lease_s() == 4.5
    for bad, why in (("soon", "not a number"), ("0.1", "between 1 and 3600")):
        monkeypatch.setenv("W2S_COMPUTE_LEASE_S", bad)
        with pytest.raises(ValueError, match=why):
            default_lease_s()


def test_a_live_lease_is_left_alone_and_an_expired_one_requeued_then_failed(queue: JobQueue) -> None:
    # Another host's dispatcher (other pid space): its pid means nothing here, only the lease counts.
    holder = LeaseHolder(lease_s=2, pid=os.getpid(), space="other-host")
    job = queue.submit("a", "sleep", SLEEP, {"seconds": 0}).id
    for attempt in (1, 2):
        assert queue.claim_next(1, holder.pid, holder) is not None
        assert queue.expire(lambda pid: False, lambda pid: None) == []  # dead-looking pid, other space: wait
        assert queue.renew(holder, [job]) == {job}
        killed: list[int] = []
        (taken,) = queue.expire(lambda pid: True, killed.append, now=time.time() + 2.5)
        assert killed == []  # never signal a pid of another pid space
        if attempt == 1:
            assert taken.state == JobState.QUEUED and "lease expired during attempt 1" in taken.message
    assert taken.state == JobState.FAILED and taken.error == "its server's lease expired during attempt 2 (no attempts left)"
    assert queue.renew(holder, [job]) == set()  # the old holder learns it lost the job


def test_a_dead_owner_in_our_pid_space_is_taken_back_at_once_and_its_sandbox_killed(queue: JobQueue) -> None:
    holder = LeaseHolder(lease_s=60, pid=os.getpid())
    job = queue.submit("a", "sleep", SLEEP, {"seconds": 0}).id
    queue.claim_next(1, holder.pid, holder)
    queue.set_pid(job, 4242)
    killed: list[int] = []
    (taken,) = queue.expire(lambda pid: pid == 4242, killed.append)  # owner dead, its sandbox still up
    assert killed == [4242] and taken.state == JobState.QUEUED and "died or restarted" in taken.message
    row = _row(queue, job)
    assert row.slot is None and row.lease_owner is None and row.pid is None


def test_only_the_lease_holder_writes_progress_and_the_outcome(queue: JobQueue) -> None:
    mine, other = LeaseHolder(pid=os.getpid()), LeaseHolder(pid=os.getpid())
    job = queue.submit("a", "sleep", SLEEP, {"seconds": 0}).id
    queue.claim_next(1, mine.pid, mine)
    queue.record_progress(job, 0.5, "not yours", {"step": 9}, owner=other.owner)
    assert not queue.finish(job, JobState.SUCCEEDED, result={"x": 1}, owner=other.owner)
    view = queue.view(job)
    assert view.state == JobState.RUNNING and view.progress == 0.0 and view.metrics == {}
    assert queue.finish(job, JobState.SUCCEEDED, result={"x": 1}, owner=mine.owner)
    assert queue.view(job).state == JobState.SUCCEEDED


def test_a_lost_attempts_late_outcome_never_lands_on_the_next_attempt_of_the_same_dispatcher(queue: JobQueue) -> None:
    holder = LeaseHolder(lease_s=2, pid=os.getpid(), space="other-host")
    job = queue.submit("a", "sleep", SLEEP, {"seconds": 0}).id
    queue.claim_next(1, holder.pid, holder)
    queue.expire(lambda pid: True, lambda pid: None, now=time.time() + 3)  # attempt 1 lost (we were stalled)
    assert queue.claim_next(1, holder.pid, holder, exclude={job}) is None  # its reader still runs: not again yet
    queue.claim_next(1, holder.pid, holder)  # the reader ended: attempt 2, same dispatcher
    queue.record_progress(job, 0.9, "late", {"step": 1}, owner=holder.owner, attempt=1)
    assert not queue.finish(job, JobState.SUCCEEDED, result={"from": 1}, owner=holder.owner, attempt=1)
    assert queue.view(job).state == JobState.RUNNING and queue.view(job).progress == 0.0
    assert queue.finish(job, JobState.SUCCEEDED, result={"from": 2}, owner=holder.owner, attempt=2)
    assert queue.view(job).result == {"from": 2}


def test_a_jobs_table_from_before_leases_is_migrated(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "old.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE job (id VARCHAR PRIMARY KEY, agent VARCHAR, kind VARCHAR, spec VARCHAR, "
                     "state VARCHAR, run_dir VARCHAR, created_at DATETIME, started_at DATETIME, finished_at DATETIME, "
                     "attempts INTEGER, progress FLOAT, message VARCHAR, metrics VARCHAR, result VARCHAR, "
                     "error VARCHAR, slot INTEGER, pid INTEGER, owner_pid INTEGER, cancel_requested BOOLEAN)")
    queue = JobQueue(create_sqlite_engine(db))
    JobQueue(create_sqlite_engine(db))  # a second server migrating the same file finds nothing to do
    job = queue.submit("a", "sleep", SLEEP, {"seconds": 0}).id
    holder = LeaseHolder(pid=os.getpid())
    assert queue.claim_next(1, holder.pid, holder) is not None and _row(queue, job).lease_owner == holder.owner


# ---- dispatchers with real sandboxes ----

_DISPATCHER = """
import sys, time
from pathlib import Path
from mcp_servers.core import create_sqlite_engine
from mcp_servers.jobs import JobQueue, JobRunner, JobSandbox
db, workspaces, data = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
queue = JobQueue(create_sqlite_engine(db), workspaces_dir=workspaces)
box = JobSandbox(workspaces_dir=workspaces, data_dir=data, backend_name="bwrap")
runner = JobRunner(queue, box, slots=1, poll_s=0.05, lease_s=3.0).start()
print(queue.submit("a", "sleep", "trainer.jobs.builtin:sleep_job", {"seconds": 8.0, "steps": 16}).id, flush=True)
time.sleep(300)
"""


@pytest.mark.bwrap
def test_a_dispatcher_that_loses_its_lease_stops_the_sandbox_and_writes_nothing(db_path: Path, workspaces: Path,
                                                                               box: JobSandbox) -> None:
    queue = JobQueue(create_sqlite_engine(db_path), Quotas(max_attempts=1), workspaces_dir=workspaces)
    with JobRunner(queue, box, slots=1, poll_s=0.05, lease_s=2.0):
        job = queue.submit("a", "sleep", SLEEP, {"seconds": 30, "steps": 30}).id
        _wait_for(lambda: _row(queue, job).pid is not None, 60, "the sandbox start")
        sandbox = _row(queue, job).pid
        # Another dispatcher took the job back (as after missed heartbeats) but could not kill the sandbox.
        with write_session(queue.engine) as session:
            row = session.get(JobRow, job)
            row.lease_until = time.time() - 1
            session.add(row)
        queue.expire(lambda pid: True, lambda pid: None, space="elsewhere")
        _wait_for(lambda: not pid_alive(sandbox), 10, "the orphan sandbox's end")
        time.sleep(1.0)  # the old reader has seen EOF by now
    view = queue.view(job)
    assert view.state == JobState.FAILED and "lease expired" in (view.error or "")


def _stop_outside_a_transaction(pid: int, db: Path) -> None:
    """SIGSTOP `pid` at a moment it holds no SQLite write lock. (Frozen inside a write, it would block every
    server's writes until it resumes or dies: SQLite's locks belong to the live process; no lease breaks them.)"""
    import sqlite3

    for _ in range(100):
        os.kill(pid, signal.SIGSTOP)
        conn = sqlite3.connect(db, timeout=0.2, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return
        except sqlite3.OperationalError:
            os.kill(pid, signal.SIGCONT)
            time.sleep(0.05)
        finally:
            conn.close()
    raise AssertionError("the dispatcher always held the write lock")


@pytest.mark.bwrap
def test_a_hung_dispatchers_job_is_taken_back_within_the_lease_and_its_orphan_sandbox_stops(
        db_path: Path, box: JobSandbox) -> None:
    hung = subprocess.Popen([sys.executable, "-c", _DISPATCHER, str(db_path), str(box.workspaces_dir),
                             str(box.data_dir)], stdout=subprocess.PIPE, text=True)
    try:
        job = hung.stdout.readline().strip()
        queue = JobQueue(create_sqlite_engine(db_path), workspaces_dir=box.workspaces_dir)
        _wait_for(lambda: _row(queue, job).pid is not None and _row(queue, job).progress > 0, 60, "a running job")
        sandbox = _row(queue, job).pid
        _stop_outside_a_transaction(hung.pid, db_path)  # alive (and a pid in our space) but renewing nothing
        stopped = time.monotonic()
        with JobRunner(queue, box, slots=1, poll_s=0.05, lease_s=3.0):
            _wait_for(lambda: f"/{hung.pid}/" not in (_row(queue, job).lease_owner or ""), 10, "the take-back")
            taken_s = time.monotonic() - stopped
            _wait_for(lambda: not pid_alive(sandbox), 5, "the orphan sandbox's end")
            os.kill(hung.pid, signal.SIGCONT)  # it wakes up, finds its lease gone, and records nothing
            _wait_for(lambda: queue.view(job).state == JobState.SUCCEEDED, 60, "attempt 2 on the live dispatcher")
        view = queue.view(job, log_lines=50)
        assert view.attempts == 2 and "attempt 2 started" in (view.log_tail or "")
        # The lease (3 s) from the last renewal, plus at most one expiry scan (1 s) and scheduling on a busy box.
        assert taken_s < 3.0 + 3.0, f"taken back {taken_s:.1f}s after the dispatcher hung (lease 3 s)"
        print(f"hung dispatcher -> job requeued in {taken_s:.2f} s (lease 3 s)")
    finally:
        os.kill(hung.pid, signal.SIGCONT)
        hung.kill()
        hung.wait()


def _descendants(root: int) -> set[int]:
    """`root` and every process below it (read from /proc: the sandbox's inner processes included)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat[stat.rfind(")") + 2:].split()[1]), []).append(int(entry.name))
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        found.add(pid)
        todo += children.get(pid, [])
    return found


@pytest.mark.bwrap
def test_every_process_of_the_sandbox_dies_with_its_dispatcher(db_path: Path, box: JobSandbox) -> None:
    """SIGKILL of the dispatcher alone: prlimit and the root launcher exec into bwrap, so bwrap's parent is the
    dispatcher and --die-with-parent takes down the sandbox, the job's python inside it included."""
    dispatcher = subprocess.Popen([sys.executable, "-c", _DISPATCHER, str(db_path), str(box.workspaces_dir),
                                   str(box.data_dir)], stdout=subprocess.PIPE, text=True)
    try:
        job = dispatcher.stdout.readline().strip()
        queue = JobQueue(create_sqlite_engine(db_path), workspaces_dir=box.workspaces_dir)
        _wait_for(lambda: _row(queue, job).pid is not None and _row(queue, job).progress > 0, 60, "a running job")
        sandbox = _descendants(_row(queue, job).pid)
        assert len(sandbox) >= 3  # bwrap, its pid-1 child in the namespace, the job's python
    finally:
        dispatcher.kill()
        dispatcher.wait()
    _wait_for(lambda: not any(pid_alive(pid) for pid in sandbox), 5, "the sandbox's end")
