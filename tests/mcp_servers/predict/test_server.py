"""The predict server: every refused predict request; read_predictions and labels_source='job:...' as an agent
attacks them (a finished predict job whose predictions file, or whole folder, was replaced by a link to another
agent's predictions: both refuse, the same file as a regular file is accepted, so the refusal is the link's doing);
an idea job's predictions read over MCP."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError

from mcp_servers.jobs import JobState
from tests.mcp_servers.compute_fixtures import call, run_tiny_head_idea
from trainer.data import load_split

pytestmark = pytest.mark.bwrap


def _finished_predict_job(servers: dict, workspaces: Path) -> tuple[str, Path]:
    for compute in servers.values():
        compute.service.runner.stop()
    queue = servers["predict"].service.queue
    job = queue.submit("alice", "predict", "trainer.jobs.predict:run_predict_job", {})
    assert queue.claim_next(1, os.getpid()) is not None
    queue.finish(job.id, JobState.SUCCEEDED, result={"predictions_file": f"{job.run_dir}/predictions.json"})
    (workspaces / "alice" / job.run_dir).mkdir(parents=True)
    return job.id, workspaces / "alice" / job.run_dir


def _bobs_predictions(workspaces: Path) -> Path:
    test = load_split("sentiment", "test")
    bob = workspaces / "bob" / "runs" / "predict-bob"
    bob.mkdir(parents=True)
    payload = {"dataset": "sentiment", "split": "test", "ids": test.ids, "predictions": [0.9] * len(test),
               "hard": [1] * len(test)}
    (bob / "predictions.json").write_text(json.dumps(payload))
    return bob / "predictions.json"


async def test_predictions_linked_to_another_agents_are_refused(servers: dict, compute_env) -> None:
    workspaces = compute_env.settings.workspaces_dir
    job, run_dir = _finished_predict_job(servers, workspaces)
    bobs = _bobs_predictions(workspaces)
    os.symlink(bobs, run_dir / "predictions.json")
    async with Client(servers["predict"].mcp) as predict, Client(servers["train"].mcp) as train:
        with pytest.raises(ToolError, match="symbolic link"):
            await call(predict, "read_predictions", job_id=job)
        with pytest.raises(ToolError, match="symbolic link"):
            await call(train, "start_training", dataset="sentiment", train_split="test", labels_source=f"job:{job}",
                       config={"model": "minilm-l6", "max_steps": 1, "lora": False})
        # The whole job folder as a link: refused just the same.
        (run_dir / "predictions.json").unlink()
        run_dir.rmdir()
        os.symlink(bobs.parent, run_dir)
        with pytest.raises(ToolError, match="symbolic link"):
            await call(predict, "read_predictions", job_id=job)
        # The same bytes as a regular file of alice's own: accepted.
        run_dir.unlink()
        run_dir.mkdir()
        (run_dir / "predictions.json").write_bytes(bobs.read_bytes())
        out = await call(predict, "read_predictions", job_id=job)
        assert out["predictions"][0] == 0.9
        assert (await call(train, "list_jobs", kind="train"))["result"] == []  # the refused request queued nothing


async def test_a_checkpoint_behind_a_link_is_refused(servers: dict, compute_env) -> None:
    workspaces = compute_env.settings.workspaces_dir
    bob = workspaces / "bob" / "runs" / "train-bob" / "checkpoint"
    bob.mkdir(parents=True)
    (bob / "classifier.json").write_text("{}")
    (workspaces / "alice").mkdir(parents=True, exist_ok=True)
    os.symlink(bob, workspaces / "alice" / "ckpt")
    async with Client(servers["predict"].mcp) as predict:
        with pytest.raises(ToolError, match="symbolic link"):
            await call(predict, "predict", dataset="sentiment", checkpoint="ckpt")
        assert (await call(predict, "list_jobs"))["result"] == []


async def test_a_retried_predict_with_the_same_key_queues_one_job(servers: dict, compute_env) -> None:
    for compute in servers.values():
        compute.service.runner.stop()
    checkpoint = compute_env.settings.workspaces_dir / "alice" / "ckpt"
    checkpoint.mkdir(parents=True)
    (checkpoint / "classifier.json").write_text("{}")
    async with Client(servers["predict"].mcp) as predict:
        args = {"dataset": "sentiment", "checkpoint": "ckpt", "idempotency_key": "p-1"}
        first = await call(predict, "predict", **args)
        again = await call(predict, "predict", **args)
        with pytest.raises(ToolError, match="used for another request"):
            await call(predict, "predict", **(args | {"split": "train_unlabel"}))
        listed = await call(predict, "list_jobs")
    assert again["id"] == first["id"] and [j["id"] for j in listed["result"]] == [first["id"]]


async def test_a_half_is_one_and_the_ids_come_back(servers: dict, compute_env) -> None:
    """An exact 0.5 reads as class 1 (the grader's >= 0.5 rule), and include_ids answers the file's ids."""
    job, run_dir = _finished_predict_job(servers, compute_env.settings.workspaces_dir)
    test = load_split("sentiment", "test")
    payload = {"dataset": "sentiment", "split": "test", "ids": test.ids,
               "predictions": [0.5, 0.49999] + [0.0] * (len(test) - 2)}
    (run_dir / "predictions.json").write_text(json.dumps(payload))
    async with Client(servers["predict"].mcp) as predict:
        out = await call(predict, "read_predictions", job_id=job, include_ids=True)
    assert out["hard"][:2] == [1, 0] and out["ids"] == test.ids


@pytest.mark.slow
async def test_an_idea_jobs_predictions_are_read_over_mcp(servers: dict, compute_env) -> None:
    """read_predictions reads any job that wrote predictions: a tiny idea job through the real train server."""
    async with Client(servers["train"].mcp) as train, Client(servers["predict"].mcp) as predict:
        idea = await run_tiny_head_idea(train)
        assert idea["state"] == "succeeded", idea["error"]
        out = await call(predict, "read_predictions", job_id=idea["id"], include_ids=True)
    test = load_split("sentiment", "test")
    assert out["dataset"] == "sentiment" and out["split"] == "test" and out["ids"] == test.ids
    assert len(out["predictions"]) == len(test) and out["hard"] == [int(p >= 0.5) for p in out["predictions"]]


async def test_predict_refusals(servers: dict, compute_env) -> None:
    (compute_env.settings.workspaces_dir / "alice").mkdir(parents=True, exist_ok=True)
    async with Client(servers["predict"].mcp) as predict:
        for args, needle in [
            ({"dataset": "sentiment"}, "exactly one of checkpoint or model"),
            ({"dataset": "sentiment", "model": "mpnet-base"}, "encoder"),
            ({"dataset": "sentiment", "model": "smolm2"}, "unknown model 'smolm2': not a registry name"),
            ({"dataset": "sentiment", "checkpoint": "train-nothere"}, "no job"),
            ({"dataset": "sentiment", "checkpoint": "/tmp"}, "must be relative"),
            ({"dataset": "sentiment", "checkpoint": "."}, "not a checkpoint folder"),
            ({"dataset": "nope", "model": "smollm2-135m"}, "unknown dataset"),
        ]:
            with pytest.raises(ToolError, match=needle):
                await call(predict, "predict", **args)
        with pytest.raises(ToolError, match="no job"):
            await call(predict, "read_predictions", job_id="predict-nothere")
        assert (await call(predict, "list_jobs"))["result"] == []
