import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlmodel import Session, select

from mcp_servers.jobs import JobError, JobQueue, JobRow, JobState
from trainer.jobs import job_kind

SLEEP = "trainer.jobs.builtin:sleep_job"


def _submit(queue: JobQueue, agent: str, tmp_path: Path, n: int = 1) -> list[str]:
    return [queue.submit(agent, "sleep", SLEEP, {"seconds": 0}).id for _ in range(n)]


def test_claims_interleave_agents_round_robin(queue: JobQueue, tmp_path: Path) -> None:
    owner = {job: "a" for job in _submit(queue, "a", tmp_path, 4)}
    owner |= {job: "b" for job in _submit(queue, "b", tmp_path, 2)}
    owner |= {job: "c" for job in _submit(queue, "c", tmp_path, 2)}
    order = []
    while (claimed := queue.claim_next(n_slots=1, owner_pid=os.getpid())) is not None:
        job, slot = claimed
        assert slot == 0
        order.append(owner[job.id])
        queue.finish(job.id, JobState.SUCCEEDED, result={})
    assert order == ["a", "b", "c", "a", "b", "c", "a", "a"]


def test_a_full_slot_set_claims_nothing_and_slots_are_distinct(queue: JobQueue, tmp_path: Path) -> None:
    _submit(queue, "a", tmp_path, 3)
    first = queue.claim_next(2, os.getpid())
    second = queue.claim_next(2, os.getpid())
    assert first and second and {first[1], second[1]} == {0, 1}
    assert queue.claim_next(2, os.getpid()) is None


def test_a_claim_records_where_the_job_runs(queue: JobQueue, tmp_path: Path) -> None:
    _submit(queue, "a", tmp_path, 1)
    claimed = queue.claim_next(1, os.getpid(), node="local:host-1")
    assert claimed is not None and claimed[0].node == "local:host-1"
    queue.set_node(claimed[0].id, "ray:worker-2")
    with Session(queue.engine) as session:
        assert session.get(JobRow, claimed[0].id).node == "ray:worker-2"  # type: ignore[union-attr]


def test_quota_refuses_and_creates_nothing(queue: JobQueue, tmp_path: Path) -> None:
    _submit(queue, "a", tmp_path, 5)
    with pytest.raises(JobError, match="limit 5"):
        _submit(queue, "a", tmp_path)
    assert len(queue.list(agent="a")) == 5
    _submit(queue, "b", tmp_path)  # one agent's quota does not block another


def test_other_agents_jobs_look_missing(queue: JobQueue, tmp_path: Path) -> None:
    (job,) = _submit(queue, "a", tmp_path)
    with pytest.raises(JobError, match="no job"):
        queue.view(job, agent="b")
    with pytest.raises(JobError, match="no job"):
        queue.request_cancel(job, agent="b")
    assert queue.view(job, agent="a").state == JobState.QUEUED


def test_cancel_of_a_queued_job_is_immediate(queue: JobQueue, tmp_path: Path) -> None:
    (job,) = _submit(queue, "a", tmp_path)
    assert queue.request_cancel(job, "a").state == JobState.CANCELLED
    assert queue.claim_next(1, os.getpid()) is None


def test_recover_requeues_then_fails_with_a_reason(queue: JobQueue, tmp_path: Path) -> None:
    (job,) = _submit(queue, "a", tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    dead_pid = int(dead.stdout)
    for attempt in (1, 2):
        claimed = queue.claim_next(1, owner_pid=dead_pid)
        assert claimed is not None and claimed[0].attempts == attempt
        (recovered,) = queue.recover(alive=lambda pid: False, kill=lambda pid: None)
        expected = JobState.QUEUED if attempt == 1 else JobState.FAILED
        assert recovered.state == expected and "restarted" in recovered.message
    assert "no attempts left" in (queue.view(job).error or "")


def test_recover_leaves_jobs_of_a_live_dispatcher_alone(queue: JobQueue, tmp_path: Path) -> None:
    _submit(queue, "a", tmp_path)
    queue.claim_next(1, owner_pid=os.getpid())
    assert queue.recover(alive=lambda pid: True, kill=lambda pid: None) == []


def test_finish_keeps_the_first_outcome(queue: JobQueue, tmp_path: Path) -> None:
    (job,) = _submit(queue, "a", tmp_path)
    queue.claim_next(1, os.getpid())
    queue.finish(job, JobState.SUCCEEDED, result={"x": 1})
    queue.finish(job, JobState.FAILED, error="late")
    view = queue.view(job)
    assert view.state == JobState.SUCCEEDED and view.result == {"x": 1} and view.error is None


def test_run_dirs_are_workspace_relative_and_targets_are_trainer_jobs(queue: JobQueue) -> None:
    view = queue.submit("a", "sleep", SLEEP, {"seconds": 0})
    assert view.run_dir == f"runs/{view.id}"
    for run_dir in ("/abs/runs/x", "runs/../../bob/runs/x", ""):
        with pytest.raises(ValueError, match="relative"):
            queue.submit("a", "sleep", SLEEP, {}, run_dir)
    assert len(queue.list(agent="a")) == 1


@pytest.mark.parametrize("target", ["mcp_servers.jobs.builtin:sleep_job", "trainer.jobs.train:run",
                                    "trainer.jobs.builtin:no_such_job", "trainer.jobs._fs:make_dirs_nofollow",
                                    "trainer.jobs.nope:run", "sleep_job"])
def test_an_unregistered_target_is_refused_at_submit_with_the_kinds(queue: JobQueue, target: str) -> None:
    with pytest.raises(ValueError, match="job kind") as refused:
        queue.submit("a", "peek", target, {})
    assert all(name in str(refused.value) for name in ("sleep", "predict", "idea", "job_kind(name).target"))
    assert queue.list(agent="a") == []  # nothing stored
    by_target = queue.submit("a", "predict", job_kind("predict").target, {})
    by_name = queue.submit("a", "sleep", "sleep", {"seconds": 0})
    with Session(queue.engine) as session:
        rows = session.exec(select(JobRow).where(JobRow.agent == "a")).all()
    stored = {job.id: json.loads(job.spec)["target"] for job in rows}
    assert stored == {by_target.id: "trainer.jobs.predict:run_predict_job", by_name.id: SLEEP}


def test_a_repeated_idempotency_key_answers_the_first_job_and_queues_nothing(queue: JobQueue) -> None:
    request = {"tool": "start_training", "dataset": "d"}
    first = queue.submit("a", "sleep", SLEEP, {"seconds": 0}, idempotency_key="k-1", request=request)
    assert queue.replay("a", "k-1", request).id == first.id
    again = queue.submit("a", "sleep", SLEEP, {"seconds": 0}, idempotency_key="k-1", request=request)
    assert again.id == first.id and len(queue.list(agent="a")) == 1
    assert queue.replay("b", "k-1", request) is None  # keys are per agent
    with pytest.raises(JobError, match="used for another request"):
        queue.replay("a", "k-1", {"tool": "start_training", "dataset": "other"})
    with pytest.raises(JobError, match="used for another request"):
        queue.submit("a", "sleep", SLEEP, {"seconds": 1}, idempotency_key="k-1")
    with pytest.raises(JobError, match="idempotency_key must be"):
        queue.submit("a", "sleep", SLEEP, {"seconds": 0}, idempotency_key="bad key; drop table")
    assert len(queue.list(agent="a")) == 1


def test_racing_retries_with_one_key_queue_one_job(queue: JobQueue) -> None:
    answers: list[str] = []
    threads = [threading.Thread(target=lambda: answers.append(
        queue.submit("a", "sleep", SLEEP, {"seconds": 0}, idempotency_key="k-1").id)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(answers)) == 1 and len(queue.list(agent="a")) == 1
