"""The train server end to end through an MCP client (weak, sft, then predict on the predict server), and every
refused training request."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError

from mcp_servers.core import Identity, create_sqlite_engine, read_session
from mcp_servers.grader._service import Grader, GraderSettings
from mcp_servers.jobs import JobRow
from tests.mcp_servers.compute_fixtures import FAST_SFT, FAST_WEAK, call, wait_done
from trainer.data import load_split


@pytest.mark.slow
async def test_weak_then_sft_then_predict_gives_a_file_the_grader_accepts(servers: dict, compute_env) -> None:
    async with Client(servers["train"].mcp) as train, Client(servers["predict"].mcp) as predict:
        weak = await call(train, "start_training", dataset="sentiment", recipe="weak", config=FAST_WEAK)
        # The answer is read back after the commit: a free slot's dispatcher may already have taken the job.
        assert weak["state"] in ("queued", "running") and weak["id"].startswith("train-")
        weak = await wait_done(train, weak["id"])
        assert weak["state"] == "succeeded", (weak["error"], weak["log_tail"])
        source = weak["result"]["labels_source"]
        sft = await call(train, "start_training", dataset="sentiment", recipe="sft", config=FAST_SFT,
                         labels_source=source)
        sft = await wait_done(train, sft["id"])
        assert sft["state"] == "succeeded", sft["error"]
        assert sft["result"]["checkpoint"] == f"runs/{sft['id']}/checkpoint" and sft["metrics"]["step"] == 2
        pred = await wait_done(predict, (await call(predict, "predict", dataset="sentiment",
                                                    checkpoint=sft["id"]))["id"])
        assert pred["state"] == "succeeded", pred["error"]
        out = await call(predict, "read_predictions", job_id=pred["id"])
        listed = await call(train, "list_jobs")
    for answer in (weak, sft, pred, listed):
        assert str(compute_env.home) not in json.dumps(answer, default=str)
    test_rows = len(load_split("sentiment", "test"))
    assert len(out["predictions"]) == test_rows and set(out["hard"]) <= {0, 1}
    assert {j["id"] for j in listed["result"]} >= {weak["id"], sft["id"]}
    workspace = compute_env.settings.workspaces_dir / "alice"
    assert (workspace / sft["result"]["checkpoint"] / "classifier.json").is_file()
    assert (workspace / "runs" / sft["id"] / "metrics.jsonl").is_file()
    grader = Grader(GraderSettings(), create_sqlite_engine(compute_env.home / "grader-test.db"))
    scored = grader.submit(Identity("alice", frozenset({"grader"})), "sentiment", out["predictions"])
    assert scored.submission_id >= 1 and scored.overall is not None and scored.kind == "probabilities"


def _workspace(compute_env) -> Path:
    folder = compute_env.settings.workspaces_dir / "alice"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


REFUSALS = [
    ({"dataset": "nope"}, "unknown dataset"),
    ({"dataset": "sentiment", "recipe": "magic"}, "recipe: input should be 'idea', 'sft' or 'weak'"),
    ({"dataset": "sentiment", "recipe": "idea", "idea": "no_such_idea"}, "idea: input should be 'critic', "),
    ({"dataset": "sentiment", "recipe": "idea", "idea": "vanilla_w2s", "config": {"bogus": 1}}, "bogus"),
    ({"dataset": "sentiment", "recipe": "weak", "config": {"epochs": -1}}, "config.epochs: expected a number in [0.001, 100], got -1"),
    ({"dataset": "sentiment", "recipe": "weak", "config": {"lr": "fast"}}, "config.lr: expected a number in [0, 1], got 'fast'"),
    ({"dataset": "sentiment", "recipe": "weak", "config": {"device": "cuda"}}, "device"),
    ({"dataset": "sentiment", "recipe": "weak", "preset": "nope"}, "preset: input should be 'easy-cpu', "),
    ({"dataset": "sentiment", "recipe": "sft"}, "needs labels_source"),
    ({"dataset": "sentiment", "recipe": "sft", "labels_source": "weak:weak-000000000000"}, "does not exist"),
    ({"dataset": "sentiment", "recipe": "sft", "labels_source": "weak:../../etc"}, "not a weak artifact id"),
    ({"dataset": "sentiment", "recipe": "sft", "labels_source": "job:train-nothere"}, "no job"),
    ({"dataset": "sentiment", "recipe": "sft", "labels_source": "file:/etc/passwd"}, "must be relative"),
    ({"dataset": "sentiment", "recipe": "sft", "labels_source": "file:../bob/labels.jsonl"}, "leaves your workspace"),
    ({"dataset": "sentiment", "recipe": "sft", "labels_source": "file:escape.jsonl"}, "outside your workspace"),
    ({"dataset": "sentiment", "recipe": "sft", "labels_source": "file:short.jsonl"}, "1 rows"),
    ({"dataset": "sentiment", "recipe": "sft", "labels_source": "file:bad.jsonl"}, "not a probability"),
    ({"dataset": "sentiment", "recipe": "sft", "labels_source": "file:missing.jsonl"}, "does not exist"),
    ({"dataset": "sentiment", "recipe": "sft", "labels_source": "train_label"}, "train_split"),
    ({"dataset": "sentiment", "recipe": "sft", "labels_source": "s3://x"}, "unknown labels_source"),
]


@pytest.mark.parametrize(("args", "needle"), REFUSALS)
async def test_bad_requests_are_refused_and_create_no_job(servers: dict, compute_env, args: dict, needle: str) -> None:
    workspace = _workspace(compute_env)
    unlabel = load_split("sentiment", "train_unlabel")
    (workspace / "short.jsonl").write_text(json.dumps({"id": unlabel.ids[0], "p": 1.0}) + "\n")
    (workspace / "bad.jsonl").write_text("".join(json.dumps({"id": i, "p": 7}) + "\n" for i in unlabel.ids))
    outside = compute_env.home / "outside.jsonl"
    outside.write_text("".join(json.dumps({"id": i, "p": 1}) + "\n" for i in unlabel.ids))
    if not (workspace / "escape.jsonl").exists():
        os.symlink(outside, workspace / "escape.jsonl")
    async with Client(servers["train"].mcp) as train:
        with pytest.raises(ToolError) as caught:
            await call(train, "start_training", **args)
        assert needle in str(caught.value), str(caught.value)
        assert str(compute_env.home) not in str(caught.value)  # errors name workspace paths, never host ones
        assert (await call(train, "list_jobs"))["result"] == []
    assert not (workspace / "runs").exists() or not any((workspace / "runs").iterdir())


async def test_a_labels_file_in_the_workspace_is_accepted_and_frozen(servers: dict, compute_env) -> None:
    workspace = _workspace(compute_env)
    unlabel = load_split("sentiment", "train_unlabel")
    lines = "".join(json.dumps({"id": i, "label": n % 2 == 0}) + "\n" for n, i in enumerate(reversed(unlabel.ids)))
    (workspace / "labels").mkdir(exist_ok=True)
    (workspace / "labels" / "mine.jsonl").write_text(lines)
    for compute in servers.values():  # keep it queued (both servers dispatch from one queue): this test is about
        compute.service.runner.stop()  # what was accepted
    async with Client(servers["train"].mcp) as train:
        job = await call(train, "start_training", dataset="sentiment", config=FAST_SFT,
                         labels_source="file:labels/mine.jsonl", hard_labels=True)
        (workspace / "labels" / "mine.jsonl").write_text("changed after submission\n")
        with read_session(servers["train"].service.queue.engine) as session:
            spec = json.loads(session.get(JobRow, job["id"]).spec)
        # Frozen into the job itself (the server writes nothing into the workspace), in the split's order.
        expected = {i: float(n % 2 == 0) for n, i in enumerate(reversed(unlabel.ids))}
        assert spec["args"]["labels"] == [expected[i] for i in unlabel.ids]
        assert not (workspace / "runs").exists()
        assert (await call(train, "cancel_job", job_id=job["id"]))["state"] == "cancelled"


async def test_a_retried_start_training_with_the_same_key_queues_one_job(servers: dict, compute_env) -> None:
    for compute in servers.values():
        compute.service.runner.stop()  # queueing is the point: nothing needs to run
    async with Client(servers["train"].mcp) as train:
        args = {"dataset": "sentiment", "recipe": "weak", "config": FAST_WEAK, "idempotency_key": "retry-7f3a"}
        first = await call(train, "start_training", **args)
        again = await call(train, "start_training", **args)  # the answer of the first call was lost: retry
        with pytest.raises(ToolError, match="used for another request"):
            await call(train, "start_training", **(args | {"config": {"max_steps": 3}}))
        with pytest.raises(ToolError, match=r"idempotency_key[\s\S]*should match pattern"):  # the schema's rule
            await call(train, "start_training", **(args | {"idempotency_key": "no spaces allowed"}))
        other = await call(train, "start_training", **(args | {"idempotency_key": "retry-8b1c"}))
        listed = await call(train, "list_jobs")
    assert again["id"] == first["id"] and other["id"] != first["id"]
    assert sorted(j["id"] for j in listed["result"]) == sorted([first["id"], other["id"]])

