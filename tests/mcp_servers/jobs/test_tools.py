"""The job tools through a real train server. job_status as an agent attacks it: a log planted as a link to a host
file, the link flipped with a regular file while the agent polls, a linked `runs`; none of the target ever comes
back, and no answer carries a host path. Then how they answer: refusals as problem + fix in one log line, argument
errors naming the field, wait_job's heartbeat, cancel_job's outcome, log tails without progress bars.
(`test_tools_node.py`: wait_job from the official TypeScript SDK.)"""

from __future__ import annotations

import itertools
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError

from mcp_servers.jobs import JobState
from mcp_servers.jobs._tools import DEFAULT_WAIT_S, HEARTBEAT_S
from tests.mcp_servers.compute_fixtures import call
from tests.mcp_servers.jobs.test_events import TQDM_LOG

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

SLEEP = "trainer.jobs.builtin:sleep_job"


def _stopped(servers: dict) -> None:
    for compute in servers.values():
        compute.service.runner.stop()  # jobs stay where the test puts them


@pytest.fixture
def fastmcp_log() -> Iterator[list[logging.LogRecord]]:
    """What the servers log (fastmcp's loggers do not propagate to the root, so caplog misses them)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append  # type: ignore[method-assign]
    loggers = [logging.getLogger("fastmcp"), logging.getLogger("mcp_servers")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    yield records
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


async def test_compute_refusals_read_problem_then_fix_and_log_one_line(servers: dict, compute_env,
                                                                      fastmcp_log: list[logging.LogRecord]) -> None:
    refusals = [
        ("train", "cancel_job", {"job_id": "train-000000000000"}, "no job 'train-000000000000' of yours. list your jobs"),
        ("train", "start_training", {"dataset": "nope"}, "unknown dataset 'nope'"),
        ("train", "start_training", {"dataset": "sentiment", "recipe": "sft", "labels_source": "file:runs/a\x00b"},
         "NUL"),
        ("predict", "predict", {"dataset": "sentiment", "checkpoint": "runs/a\x00b"}, "NUL"),
        ("predict", "read_predictions", {"job_id": "predict-\x00"}, "no job"),
    ]
    for server, tool, args, expected in refusals:
        fastmcp_log.clear()
        async with Client(servers[server].mcp) as client:
            with pytest.raises(ToolError) as caught:
                await client.call_tool(tool, args)
        text = str(caught.value)
        assert expected in text and "Error calling tool" not in text and "; " not in text, text
        assert "embedded null byte" not in text and "Traceback" not in text, text
        assert not any(record.exc_info for record in fastmcp_log), [r.getMessage() for r in fastmcp_log]
        logged = [r for r in fastmcp_log if r.levelno >= logging.INFO]  # DEBUG: fastmcp's trace of every call
        assert len(logged) <= 1 and all(r.levelno == logging.INFO for r in logged), [r.getMessage() for r in logged]


async def test_list_jobs_kinds_are_an_enum_and_bad_arguments_name_the_tool(servers: dict) -> None:
    async with Client(servers["train"].mcp) as alice:
        tools = {tool.name: tool for tool in await alice.list_tools()}
        kind = tools["list_jobs"].input_schema["properties"]["kind"]
        assert {"enum": ["train", "predict"], "type": "string"} in kind["anyOf"], kind
        wait = tools["wait_job"].input_schema["properties"]["max_wait_s"]
        assert wait["default"] == DEFAULT_WAIT_S <= 25 and wait["maximum"] == 300
        for args, field in [({"kind": "sleep"}, "kind"), ({"offset": 2**63}, "offset")]:
            with pytest.raises(ToolError) as caught:
                await alice.call_tool("list_jobs", args)
            text = str(caught.value)
            assert text.startswith(f"invalid arguments for list_jobs: {field}: ") and "call[" not in text, text
            assert "pydantic" not in text and "SQLite" not in text, text


async def test_wait_job_sends_a_heartbeat_while_the_job_stands_still(servers: dict) -> None:
    _stopped(servers)
    job = servers["train"].service.queue.submit("alice", "sleep", SLEEP, {"seconds": 0})  # queued; nothing runs it
    beats: list[tuple[float, float, float | None, str | None]] = []

    async def progress(value: float, total: float | None, message: str | None) -> None:
        beats.append((time.monotonic(), value, total, message))

    async with Client(servers["train"].mcp) as alice:
        started = time.monotonic()
        result = await alice.call_tool("wait_job", {"job_id": job.id, "max_wait_s": 2 * HEARTBEAT_S + 1},
                                       progress_handler=progress)
        waited = time.monotonic() - started
    assert result.structured_content["state"] == "queued" and waited >= 2 * HEARTBEAT_S
    assert len(beats) >= 3, beats  # at the start and every HEARTBEAT_S after, though nothing changed
    gaps = [later[0] - earlier[0] for earlier, later in itertools.pairwise(beats)]
    assert max(gaps) < HEARTBEAT_S + 1.5, gaps
    values = [beat[1] for beat in beats]
    assert values == sorted(set(values)) and values[-1] - values[0] < 1e-3, values  # increasing, as the spec asks
    assert all(beat[2] == 1.0 and beat[3] and beat[3].startswith("queued") for beat in beats), beats


async def test_cancel_job_answers_what_the_cancel_did(servers: dict) -> None:
    _stopped(servers)
    queue = servers["train"].service.queue
    running = queue.submit("alice", "sleep", SLEEP, {"seconds": 0})
    done = queue.submit("alice", "sleep", SLEEP, {"seconds": 0})
    assert queue.claim_next(2, os.getpid()) and queue.claim_next(2, os.getpid())
    queue.finish(done.id, JobState.SUCCEEDED, result={"slept_s": 0})
    queued = queue.submit("alice", "sleep", SLEEP, {"seconds": 0})
    async with Client(servers["train"].mcp) as alice:
        first = await call(alice, "cancel_job", job_id=queued.id)
        assert first["cancel"] == "cancelled" and first["state"] == "cancelled"
        stopping = await call(alice, "cancel_job", job_id=running.id)
        assert stopping["cancel"] == "cancelling" and stopping["state"] == "running" and stopping["cancel_requested"]
        assert (await call(alice, "job_status", job_id=running.id))["cancel_requested"] is True
        ended = await call(alice, "cancel_job", job_id=done.id)
        assert ended["cancel"] == "already_finished" and ended["state"] == "succeeded"
        again = await call(alice, "cancel_job", job_id=queued.id)
        assert again["cancel"] == "already_finished" and again["state"] == "cancelled"


async def test_job_status_log_tail_leaves_out_progress_bars(servers: dict) -> None:
    _stopped(servers)
    queue = servers["train"].service.queue
    job = queue.submit("alice", "sleep", SLEEP, {"seconds": 0})
    run_dir: Path = servers["train"].service.settings.workspaces_dir / "alice" / job.run_dir
    run_dir.mkdir(parents=True)
    (run_dir / "log.txt").write_text(TQDM_LOG)
    async with Client(servers["train"].mcp) as alice:
        view = await call(alice, "job_status", job_id=job.id, log_lines=3)
    assert view["log_tail"] == "step 3/3\nTraceback (most recent call last):\n\tboom"
