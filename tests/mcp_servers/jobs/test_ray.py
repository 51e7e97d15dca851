"""The Ray backend on a real local multi-node cluster started by the test (a head without CPUs, two 1-CPU worker
nodes, all on this machine): jobs of two agents run in bwrap sandboxes on the worker nodes, with the local
runner's results, progress, cancel and fairness; a node killed mid-job costs an attempt, never a silent `running`."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from mcp_servers.core import create_sqlite_engine
from mcp_servers.jobs import JobQueue, JobRow, JobSandbox, JobState, Quotas
from tests.mcp_servers.compute_fixtures import FAST_SFT, FAST_WEAK, ComputeEnv, call, wait_done

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]'; dev includes it)")
from ray.cluster_utils import Cluster

from mcp_servers.jobs import RayJobRunner

SLEEP = "trainer.jobs.builtin:sleep_job"
PROBE = "trainer.jobs.builtin:probe_job"
pytestmark = [pytest.mark.bwrap, pytest.mark.slow]
NODE_MEMORY = {"object_store_memory": 78 * 1024 * 1024}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """Three nodes: the head schedules nothing (0 CPUs), each worker runs one job at a time. Fast health checks so
    a killed node is noticed in seconds."""
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, **NODE_MEMORY, "include_dashboard": False,
        "_system_config": {"health_check_period_ms": 500, "health_check_failure_threshold": 4}})
    for _ in range(2):
        cluster.add_node(num_cpus=1, **NODE_MEMORY)
    cluster.wait_for_nodes()
    try:
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


START_S = 180.0
"""How long a job may take to reach a state: a fresh cluster's first task starts Ray worker processes and a sandbox,
which took over 60 s on a 2-core machine with two other busy processes (nothing here depends on it being quick)."""


def _wait(queue: JobQueue, job: str, states: set[JobState], timeout: float = START_S) -> JobState:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = queue.view(job).state
        if state in states:
            return state
        time.sleep(0.1)
    raise AssertionError(f"{job} still {queue.view(job).state} ({queue.view(job).message}) after {timeout}s")


def _queue(tmp_path: Path, workspaces: Path, attempts: int = 2) -> JobQueue:
    return JobQueue(create_sqlite_engine(tmp_path / "ray-jobs.db"), Quotas(max_queued_per_agent=10,
                                                                           max_attempts=attempts),
                    workspaces_dir=workspaces)


def _sandbox_pids() -> set[int]:
    """Job sandboxes started under this test's cluster: `trainer.jobs` processes descending from this process (the
    Ray nodes are its children; bwrap passes its arguments through a fd, so no path shows in a command line)."""
    parent: dict[int, int] = {}
    jobs: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if b"trainer.jobs" in (entry / "cmdline").read_bytes():
                jobs.add(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    ours = set()
    for pid in jobs:
        seen, up = set(), pid
        while up > 1 and up not in seen:
            seen.add(up)
            if up == os.getpid():
                ours.add(pid)
                break
            up = parent.get(up, 0)
    return ours


def _runner(cluster: Cluster, queue: JobQueue, box: JobSandbox) -> RayJobRunner:
    return RayJobRunner(queue, box, address=cluster.address, num_cpus=1, poll_s=0.1)


def test_two_agents_jobs_run_on_the_worker_nodes(cluster: Cluster, tmp_path: Path, workspaces: Path,
                                                 box: JobSandbox) -> None:
    queue = _queue(tmp_path, workspaces)
    with _runner(cluster, queue, box) as runner:
        assert runner.slots == 2  # the two worker nodes' CPUs; the head holds none
        jobs = {agent: queue.submit(agent, "sleep", SLEEP, {"seconds": 1.0, "steps": 2}).id for agent in "ab"}
        bad = queue.submit("a", "sleep", SLEEP, {"seconds": 0, "fail": "boom"}).id
        probe = queue.submit("b", "probe", PROBE, {"read": ["/w2s/data", str(workspaces / "a")],
                                                   "write": ["/w2s/workspace", "/w2s/data"]}).id
        for job in [*jobs.values(), probe]:
            assert _wait(queue, job, {JobState.SUCCEEDED, JobState.FAILED}) == JobState.SUCCEEDED, queue.view(job)
        assert _wait(queue, bad, {JobState.FAILED, JobState.SUCCEEDED}) == JobState.FAILED
    for agent, job in jobs.items():
        done = queue.view(job, log_lines=5)
        assert done.result["slept_s"] == 1.0 and done.progress == 1.0 and done.metrics == {"step": 2}
        assert (workspaces / agent / "runs" / job / "result.txt").read_text() == "slept 1.0s\n"
        assert "succeeded" in (done.log_tail or "")
    a, b = (queue.view(job) for job in jobs.values())
    assert a.started_at < b.finished_at and b.started_at < a.finished_at  # both nodes ran at once
    with Session(queue.engine) as session:  # where each ran, for the operator's dashboard: two distinct workers
        nodes = {session.get(JobRow, job).node for job in jobs.values()}  # type: ignore[union-attr]
    assert len(nodes) == 2 and all(str(n).startswith("ray:") for n in nodes), nodes
    assert queue.view(bad, log_lines=20).error == "RuntimeError: boom"
    seen = queue.view(probe).result
    assert seen["read"]["/w2s/data"] == "read" and seen["read"][str(workspaces / "a")] == "missing"
    assert seen["write"]["/w2s/workspace"] == "written" and seen["write"]["/w2s/data"].startswith("denied")


def test_fairness_across_agents_and_cancel_on_the_cluster(cluster: Cluster, tmp_path: Path, workspaces: Path,
                                                          box: JobSandbox) -> None:
    queue = _queue(tmp_path, workspaces)
    greedy = [queue.submit("a", "sleep", SLEEP, {"seconds": 0.5, "steps": 1}).id for _ in range(4)]
    late = [queue.submit("b", "sleep", SLEEP, {"seconds": 0.5, "steps": 1}).id for _ in range(2)]
    with _runner(cluster, queue, box):
        for job in greedy + late:
            assert _wait(queue, job, {JobState.SUCCEEDED, JobState.FAILED}) == JobState.SUCCEEDED
        order = [view.id for view in sorted((queue.view(j) for j in greedy + late), key=lambda v: v.started_at)]
        assert late[0] in order[:2] and late[1] in order[:4], order  # b is not starved behind a's queue

        long = queue.submit("a", "sleep", SLEEP, {"seconds": 120, "steps": 1200}).id
        _wait(queue, long, {JobState.RUNNING})
        deadline = time.monotonic() + 30
        while not _sandbox_pids():
            assert time.monotonic() < deadline, "the job's sandbox never started"
            time.sleep(0.1)
        queue.request_cancel(long, "a")
        assert _wait(queue, long, {JobState.CANCELLED, JobState.FAILED}, timeout=20) == JobState.CANCELLED
        deadline = time.monotonic() + 10
        while _sandbox_pids():  # the sandbox died with its Ray worker
            assert time.monotonic() < deadline, "a cancelled job's sandbox is still running"
            time.sleep(0.1)
        after = queue.submit("b", "sleep", SLEEP, {"seconds": 0}).id
        assert _wait(queue, after, {JobState.SUCCEEDED, JobState.FAILED}) == JobState.SUCCEEDED


def test_a_node_killed_mid_job_costs_an_attempt_then_the_job_fails_with_the_reason(
        cluster: Cluster, tmp_path: Path, workspaces: Path, box: JobSandbox) -> None:
    queue = _queue(tmp_path, workspaces, attempts=2)
    with _runner(cluster, queue, box):
        job = queue.submit("a", "sleep", SLEEP, {"seconds": 120, "steps": 1200}).id
        for attempt in (1, 2):
            node, pids = _node_running(cluster, queue, job)
            cluster.remove_node(node, allow_graceful=False)
            cluster.add_node(num_cpus=1, **NODE_MEMORY)  # a replacement, as an autoscaler would bring
            state = _wait(queue, job, {JobState.QUEUED, JobState.RUNNING, JobState.FAILED} if attempt == 1
                          else {JobState.FAILED}, timeout=60)
            deadline = time.monotonic() + 15
            while pids & _sandbox_pids():
                assert time.monotonic() < deadline, "the lost node's sandbox is still running"
                time.sleep(0.1)
            if attempt == 1:
                assert state != JobState.FAILED and queue.view(job).attempts <= 2
        failed = queue.view(job)
        assert failed.attempts == 2 and failed.error is not None and failed.error.startswith("Ray node ")
        assert "was lost during attempt 2 (no attempts left)" in failed.error


def test_a_sandbox_that_cannot_start_on_its_node_fails_the_job_with_the_reason(
        cluster: Cluster, tmp_path: Path, workspaces: Path, box: JobSandbox) -> None:
    import dataclasses

    queue = _queue(tmp_path, workspaces)
    broken = dataclasses.replace(box, backend_name="no-such-backend")
    with _runner(cluster, queue, broken):
        job = queue.submit("a", "sleep", SLEEP, {"seconds": 0}).id
        assert _wait(queue, job, {JobState.FAILED, JobState.SUCCEEDED}) == JobState.FAILED
    failed = queue.view(job)
    assert failed.attempts == 1 and (failed.error or "").startswith("the job's Ray task failed on node ")


def _node_running(cluster: Cluster, queue: JobQueue, job: str) -> tuple[Any, set[int]]:
    """The worker node whose raylet the job's sandbox descends from (found by process ancestry: the node id in the
    job's `running on Ray node` message lasts only until its first progress), and the sandbox's pids."""
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        if queue.view(job).state == JobState.RUNNING and (pids := _sandbox_pids()):
            for node in cluster.worker_nodes:
                raylet = node.all_processes["raylet"][0].process.pid
                if any(raylet in _ancestors(pid) for pid in pids):
                    return node, pids
        time.sleep(0.1)
    raise AssertionError(f"{job} never ran on a worker node: {queue.view(job)}")


def _ancestors(pid: int) -> set[int]:
    seen: set[int] = set()
    while pid > 1 and pid not in seen:
        seen.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return seen


async def test_a_real_weak_sft_predict_chain_through_the_servers_on_ray(cluster: Cluster, compute_env: ComputeEnv,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The train and predict servers with `W2S_COMPUTE_BACKEND=ray`: tiny real jobs (two steps each) run on the
    worker nodes and answer as on the local runner, with workspace-relative paths only."""
    from fastmcp import Client

    from mcp_servers.predict import build_server as build_predict
    from mcp_servers.train import build_server as build_train

    monkeypatch.setenv("W2S_COMPUTE_BACKEND", "ray")
    monkeypatch.setenv("W2S_RAY_ADDRESS", cluster.address)
    settings = compute_env.settings.model_copy(update={"compute_backend": "ray", "ray_address": cluster.address,
                                                       "slots": None})
    made = [build_train(settings, compute_env.tokens["alice"]), build_predict(settings, compute_env.tokens["alice"])]
    try:
        assert all(isinstance(compute.service.runner, RayJobRunner) for compute in made)
        async with Client(made[0].mcp) as train, Client(made[1].mcp) as predict:
            weak = await wait_done(train, (await call(train, "start_training", dataset="sentiment", recipe="weak",
                                                      config=FAST_WEAK))["id"])
            assert weak["state"] == "succeeded", (weak["error"], weak["log_tail"])
            sft = await wait_done(train, (await call(train, "start_training", dataset="sentiment", recipe="sft",
                                                     config=FAST_SFT,
                                                     labels_source=weak["result"]["labels_source"]))["id"])
            assert sft["state"] == "succeeded", (sft["error"], sft["log_tail"])
            pred = await wait_done(predict, (await call(predict, "predict", dataset="sentiment",
                                                        checkpoint=sft["id"]))["id"])
            assert pred["state"] == "succeeded", (pred["error"], pred["log_tail"])
            out = await call(predict, "read_predictions", job_id=pred["id"])
    finally:
        for compute in made:
            compute.service.runner.stop()
    assert sft["result"]["checkpoint"] == f"runs/{sft['id']}/checkpoint" and sft["metrics"]["step"] == 2
    assert len(out["predictions"]) > 0 and all(0.0 <= p <= 1.0 for p in out["predictions"])
    for answer in (weak, sft, pred):
        assert str(compute_env.home) not in json.dumps(answer, default=str)
