"""job_status as an agent attacks it, through a real train server: a log planted as a link to a host file, the
link flipped with a regular file while the agent polls, a linked `runs`. None of the target ever comes back, and
no answer carries a host path."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from fastmcp import Client

from mcp_servers.jobs import JobState
from tests.mcp_servers.compute_fixtures import call

pytestmark = pytest.mark.bwrap
SECRET = "w2s_TOKENS_DB_secret_of_the_operator"


def _queued_job(servers: dict, agent: str = "alice") -> tuple[str, Path]:
    for compute in servers.values():
        compute.service.runner.stop()  # the job stays where the test puts it
    queue = servers["train"].service.queue
    job = queue.submit(agent, "sleep", "trainer.jobs.builtin:sleep_job", {"seconds": 0})
    claimed = queue.claim_next(1, os.getpid())
    assert claimed is not None
    queue.finish(job.id, JobState.FAILED, error="planted")
    workspace = servers["train"].settings.workspaces_dir / agent
    (workspace / job.run_dir).mkdir(parents=True)
    return job.id, workspace / job.run_dir


def _host_secrets(compute_env) -> list[Path]:
    tokens = compute_env.home / "private" / "state" / "fake-tokens.db"
    tokens.parent.mkdir(parents=True, exist_ok=True)
    tokens.write_text(f"{SECRET}\n" * 50)
    bob = compute_env.settings.workspaces_dir / "bob"
    bob.mkdir(parents=True, exist_ok=True)
    (bob / ".mcp.json").write_text(json.dumps({"headers": {"Authorization": f"Bearer {SECRET}"}}) + "\n")
    return [tokens, bob / ".mcp.json", Path("/proc/self/environ")]


async def test_a_log_planted_as_a_link_returns_none_of_its_target(servers: dict, compute_env) -> None:
    job, run_dir = _queued_job(servers)
    async with Client(servers["train"].mcp) as alice:
        for target in _host_secrets(compute_env):
            (run_dir / "log.txt").unlink(missing_ok=True)
            os.symlink(target, run_dir / "log.txt")
            view = await call(alice, "job_status", job_id=job, log_lines=200)
            assert SECRET not in json.dumps(view) and "symbolic link" in view["log_tail"]
        (run_dir / "log.txt").unlink()
        (run_dir / "log.txt").write_text("an ordinary line\n")
        assert (await call(alice, "job_status", job_id=job, log_lines=5))["log_tail"] == "an ordinary line"


async def test_flipping_the_log_between_a_file_and_a_link_never_returns_the_target(servers: dict,
                                                                                   compute_env) -> None:
    job, run_dir = _queued_job(servers)
    target = _host_secrets(compute_env)[0]
    log, link, plain = run_dir / "log.txt", run_dir / ".link", run_dir / ".plain"
    stop = threading.Event()

    def flip() -> None:  # what the agent runs inside its sandbox, as fast as it can
        while not stop.is_set():
            os.symlink(target, link)
            os.replace(link, log)
            plain.write_text("ordinary log line\n")
            os.replace(plain, log)

    flipper = threading.Thread(target=flip, daemon=True)
    flipper.start()
    tails: list[str | None] = []
    try:
        async with Client(servers["train"].mcp) as alice:
            for _ in range(300):
                view = await call(alice, "job_status", job_id=job, log_lines=50)
                assert SECRET not in json.dumps(view)
                tails.append(view["log_tail"])
    finally:
        stop.set()
        flipper.join()
    assert "ordinary log line" in tails  # the race was really run: both states were seen
    assert any(t and "symbolic link" in t for t in tails)


async def test_a_linked_runs_folder_is_not_followed(servers: dict, compute_env) -> None:
    job, run_dir = _queued_job(servers)
    (run_dir / "log.txt").write_text("alice's own log\n")
    secret_runs = compute_env.settings.workspaces_dir / "bob" / "runs" / job
    secret_runs.mkdir(parents=True)
    (secret_runs / "log.txt").write_text(f"{SECRET}\n")
    runs = run_dir.parent
    os.rename(runs, runs.with_name("runs-old"))
    os.symlink(secret_runs.parent, runs)
    async with Client(servers["train"].mcp) as alice:
        view = await call(alice, "job_status", job_id=job, log_lines=20)
    assert SECRET not in json.dumps(view) and "symbolic link" in view["log_tail"]


async def test_no_answer_carries_a_host_path(servers: dict, compute_env) -> None:
    host = str(compute_env.home)
    answers: list[dict] = []
    async with Client(servers["train"].mcp) as alice, Client(servers["predict"].mcp) as predict:
        failing = servers["train"].service.queue.submit("alice", "sleep", "trainer.jobs.builtin:sleep_job",
                                                {"seconds": 0, "fail": "boom"})
        view = await call(alice, "wait_job", job_id=failing.id, max_wait_s=60)
        assert view["state"] == "failed" and "Traceback" in view["log_tail"], view
        answers += [view, await call(alice, "job_status", job_id=failing.id, log_lines=200),
                    await call(alice, "list_jobs"), await call(predict, "list_jobs")]
        queued = await call(alice, "start_training", dataset="sentiment", recipe="weak", config={"max_steps": 1})
        answers += [queued, await call(alice, "cancel_job", job_id=queued["id"])]
        for tool, args in [("start_training", {"dataset": "sentiment", "recipe": "sft",
                                               "labels_source": "weak:weak-000000000000"}),
                           ("start_training", {"dataset": "sentiment", "recipe": "sft",
                                               "labels_source": "file:nothere.jsonl"})]:
            result = await alice.call_tool(tool, args, raise_on_error=False)
            answers.append({"error": str(result.content)})
        result = await predict.call_tool("predict", {"dataset": "sentiment", "checkpoint": "runs/none"},
                                         raise_on_error=False)
        answers.append({"error": str(result.content)})
    assert view["run_dir"] == f"runs/{failing.id}"
    for answer in answers:
        assert host not in json.dumps(answer), answer
