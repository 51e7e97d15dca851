"""In-memory fastmcp Client tests of each grader tool."""

from __future__ import annotations

import math
from typing import Any

import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError
from sqlalchemy import func
from sqlmodel import select

from mcp_servers.core import read_session
from mcp_servers.grader import build_server
from mcp_servers.grader._records import SubmissionRow


def _count(app) -> int:  # type: ignore[no-untyped-def]
    with read_session(app.engine) as session:
        return int(session.exec(select(func.count()).select_from(SubmissionRow)).one())


async def test_list_datasets(env: Any) -> None:
    app = build_server(local_token=env.tokens["alice"])
    async with Client(app.mcp) as client:
        result = await client.call_tool("list_datasets", {})
    infos = {d["name"]: d for d in result.structured_content["result"]}
    assert set(infos) == {"toy", "pref"}
    assert infos["toy"]["weak_acc"] == 0.6 and infos["toy"]["task"] == "binary"
    assert infos["pref"]["weak_acc"] is None and "not calibrated" in infos["pref"]["calibration_note"]
    assert 0 < infos["toy"]["scored_rows"] < infos["toy"]["sizes"]["test"]


async def test_submit_answers_rounded_scores_by_part(env: Any) -> None:
    app = build_server(local_token=env.tokens["alice"])
    truth = env.truth["toy"]
    async with Client(app.mcp) as client:
        tools = {t.name: t for t in await client.list_tools()}
        assert tools["submit_predictions"].annotations.read_only_hint is False
        assert tools["leaderboard"].annotations.read_only_hint is True
        result = await client.call_tool("submit_predictions", {
            "dataset": "toy", "predictions": [float(t) for t in truth], "idea": "oracle", "note": "n", "seed": 1})
    data = result.structured_content
    assert data["agent"] == "alice" and data["submission_id"] >= 1 and data["kind"] == "hard"
    assert data["overall"]["accuracy"] == 1.0 and math.isclose(data["overall"]["pgr"], round(0.4 / 0.3, 3))
    assert data["id"]["accuracy"] == 1.0 and data["ood"]["pgr"] == round(0.45 / 0.3, 3)
    assert "predictions" not in str(data["overall"])  # never per example
    assert _count(app) == 1


async def test_uncalibrated_dataset_gives_null_pgr_with_reason(env: Any) -> None:
    app = build_server(local_token=env.tokens["alice"])
    async with Client(app.mcp) as client:
        result = await client.call_tool("submit_predictions", {"dataset": "pref", "predictions": [0.3] * 120})
    overall = result.structured_content["overall"]
    assert overall["pgr"] is None and "no calibration" in overall["pgr_note"]
    assert result.structured_content["kind"] == "probabilities"


@pytest.mark.parametrize(("dataset", "predictions", "expect"), [
    ("toy", [0.0] * 10, "expected 1000 predictions"),
    ("toy", [0.0] * 999 + [2.0], "hard labels must be 0 or 1"),
    ("toy", [0.0] * 999 + [-0.5], "probabilities must lie in [0, 1]"),
    ("toy", [0.0] * 999 + [1.5], "probabilities must lie in [0, 1]"),
    ("nope", [0.0] * 1000, "unknown dataset 'nope'"),
    ("toy/train_unlabel", [0.0] * 40, "only the test split is ever scored"),
    ("toy", [0.0] * 2_000_001, "at most"),
])
async def test_bad_input_is_a_tool_error_and_stores_nothing(env: Any, dataset: str, predictions: list[float],
                                                            expect: str) -> None:
    app = build_server(local_token=env.tokens["alice"])
    async with Client(app.mcp) as client:
        with pytest.raises(ToolError) as info:
            await client.call_tool("submit_predictions", {"dataset": dataset, "predictions": predictions})
    assert expect in str(info.value)
    assert _count(app) == 0


async def test_non_finite_predictions_refused(env: Any) -> None:
    app = build_server(local_token=env.tokens["alice"])
    async with Client(app.mcp) as client:
        for bad in ("NaN", "Infinity"):
            with pytest.raises(ToolError):
                await client.call_tool("submit_predictions", {"dataset": "toy", "predictions": [0.0] * 999 + [bad]})
    with pytest.raises(Exception, match="not a finite number"):
        app.service.submit(app.local_identity, "toy", [0.0] * 999 + [float("nan")])
    assert _count(app) == 0


async def test_get_submission_only_your_own(env: Any) -> None:
    alice, bob = build_server(local_token=env.tokens["alice"]), build_server(local_token=env.tokens["bob"])
    admin = build_server(local_token=env.tokens["admin"])
    async with Client(alice.mcp) as client:
        sub = (await client.call_tool("submit_predictions", {"dataset": "toy", "predictions": [1.0] * 1000,
                                                             "idea": "all-ones"})).structured_content
        mine = (await client.call_tool("get_submission", {"submission_id": sub["submission_id"]})).structured_content
    assert mine["reported"]["overall"] == sub["overall"] and mine["idea"] == "all-ones"
    assert len(mine["predictions_sha256"]) == 64
    async with Client(bob.mcp) as client:
        with pytest.raises(ToolError, match="no submission"):
            await client.call_tool("get_submission", {"submission_id": sub["submission_id"]})
    async with Client(admin.mcp) as client:
        seen = (await client.call_tool("get_submission", {"submission_id": sub["submission_id"]})).structured_content
    assert seen["agent"] == "alice"


async def test_leaderboard_best_per_agent_and_idea(env: Any) -> None:
    truth = env.truth["toy"]
    half = [float(t) if i % 2 else 1.0 - t for i, t in enumerate(truth)]
    for who, preds, idea in (("alice", half, "a"), ("alice", [float(t) for t in truth], "a"),
                             ("alice", half, "b"), ("bob", [1.0] * 1000, "a")):
        build_server(local_token=env.tokens[who]).service.submit(
            build_server(local_token=env.tokens[who]).local_identity, "toy", preds, idea=idea, seed=len(idea))
    app = build_server(local_token=env.tokens["bob"])
    async with Client(app.mcp) as client:
        board = (await client.call_tool("leaderboard", {"dataset": "toy"})).structured_content
    rows = {(e["agent"], e["idea"]): e for e in board["entries"]}
    assert set(rows) == {("alice", "a"), ("alice", "b"), ("bob", "a")}
    assert rows[("alice", "a")]["accuracy"] == 1.0 and rows[("alice", "a")]["submissions"] == 2
    assert rows[("alice", "a")]["seeds"] == 1
    assert board["entries"][0]["agent"] == "alice" and board["weak_acc"] == 0.6
    assert rows[("alice", "b")]["flagged"] == 1 and rows[("alice", "b")]["flags"][0].startswith("duplicate_of:")


async def test_no_identity_is_refused(env: Any) -> None:
    app = build_server()
    async with Client(app.mcp) as client:
        with pytest.raises(ToolError, match="no caller identity"):
            await client.call_tool("list_datasets", {})


def test_token_without_grader_scope_cannot_start_stdio(env: Any) -> None:
    with pytest.raises(PermissionError):
        build_server(local_token=env.tokens["carol"])


@pytest.mark.parametrize(("tool", "args", "field"), [
    ("get_submission", {"submission_id": 2**63}, "submission_id"),
    ("submit_predictions", {"dataset": "pref", "predictions": [0.0] * 120, "seed": 2**63}, "seed"),
    ("select_final_submissions", {"dataset": "pref", "submission_ids": [2**63]}, "submission_ids"),
])
async def test_huge_integers_refused_clearly(env: Any, tool: str, args: dict, field: str) -> None:
    app = build_server(local_token=env.tokens["alice"])
    async with Client(app.mcp) as client:
        with pytest.raises(ToolError) as info:
            await client.call_tool(tool, args)
    message = str(info.value)
    assert field in message and "9223372036854775807" in message
    assert "sqlite" not in message.lower() and "overflow" not in message.lower()
    assert _count(app) == 0


async def test_default_rate_refuses_over_mcp(env: Any) -> None:
    app = build_server(local_token=env.tokens["alice"])
    async with Client(app.mcp) as client:
        for _ in range(10):
            await client.call_tool("submit_predictions", {"dataset": "pref", "predictions": [0.0] * 120})
        with pytest.raises(ToolError, match="rate limit"):
            await client.call_tool("submit_predictions", {"dataset": "pref", "predictions": [0.0] * 120})
    assert _count(app) == 10
