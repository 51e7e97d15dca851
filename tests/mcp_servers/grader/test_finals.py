"""Final selections (as on Kaggle): only these are scored on the private part; publishing closes the run."""

from __future__ import annotations

from typing import Any

import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError

from mcp_servers.core import TokenStore, create_sqlite_engine
from mcp_servers.grader import build_server
from mcp_servers.grader._board import leaderboard, publish, score_private
from mcp_servers.grader._finals import final_selection, reopen, select_final
from mcp_servers.grader._service import Grader, GraderError, GraderSettings

LIFTED = {"max_submissions": 0, "rate_limit_per_minute": 0, "rate_limit_per_hour": 0}


def _setup(env: Any) -> tuple[Grader, Any, Any]:
    grader = Grader(GraderSettings(**LIFTED), create_sqlite_engine(env.settings.db_path("grader")))
    tokens = TokenStore(env.settings.tokens_db)
    return grader, tokens.verify(env.tokens["alice"]), tokens.verify(env.tokens["bob"])


def _vector(truth: list[int], right: float) -> list[float]:
    cut = int(right * len(truth))
    return [float(t) if i < cut else 1.0 - t for i, t in enumerate(truth)]


def test_default_final_is_the_best_public_and_selection_replaces_it(env: Any) -> None:
    grader, alice, bob = _setup(env)
    truth = env.truth["toy"]
    ids = [grader.submit(alice, "toy", _vector(truth, r), idea=f"r{r}").submission_id for r in (0.6, 0.9, 0.7)]
    default = final_selection(grader, alice, "toy")
    assert default.default and default.submission_ids == [ids[1]] and not default.closed
    chosen = select_final(grader, alice, "toy", [ids[0], ids[2], ids[0]])  # duplicates collapse
    assert chosen.submission_ids == [ids[0], ids[2]] and not chosen.default
    assert final_selection(grader, alice, "toy").submission_ids == [ids[0], ids[2]]
    with pytest.raises(GraderError, match="between 1 and 2"):
        select_final(grader, alice, "toy", ids)
    bobs = grader.submit(bob, "toy", _vector(truth, 0.5)).submission_id
    with pytest.raises(GraderError, match=f"no submission {bobs} of yours"):
        select_final(grader, alice, "toy", [bobs])
    with pytest.raises(GraderError, match="no submission"):
        select_final(grader, alice, "pref", [ids[0]])  # another dataset's selection takes that dataset's ids
    rows = score_private(grader, "toy")
    assert sorted(r.submission_id for r in rows) == sorted([ids[0], ids[2], bobs])


def test_publish_shows_finals_only_closes_and_reopens(env: Any) -> None:
    grader, alice, bob = _setup(env)
    truth = env.truth["toy"]
    a = [grader.submit(alice, "toy", _vector(truth, r), idea=f"r{r}").submission_id for r in (0.6, 0.9)]
    grader.submit(bob, "toy", _vector(truth, 0.8), idea="b")
    select_final(grader, alice, "toy", [a[0]])  # alice keeps the weaker one as final: only it is scored
    publish(grader, "toy")
    board = leaderboard(grader, "toy")
    private = {e.best_submission_id: e.private_accuracy for e in board.entries}
    assert private[a[0]] is not None and private[a[1]] is None and board.closed
    summary = {s.agent: s for s in board.agents}
    assert summary["alice"].final_submission_ids == [a[0]] and not summary["alice"].final_default
    assert summary["alice"].gap_accuracy == pytest.approx(summary["alice"].accuracy
                                                          - summary["alice"].private_accuracy, abs=1e-3)
    assert summary["bob"].final_default and summary["bob"].private_accuracy is not None
    with pytest.raises(GraderError, match="closed"):
        grader.submit(alice, "toy", _vector(truth, 0.5))
    with pytest.raises(GraderError, match="closed"):
        select_final(grader, alice, "toy", [a[1]])
    grader.submit(alice, "pref", [0.0] * 120)  # other datasets stay open
    assert reopen(grader, "toy") and not reopen(grader, "toy")
    grader.submit(alice, "toy", _vector(truth, 0.5))
    assert not leaderboard(grader, "toy").closed


async def test_final_tools_over_mcp(env: Any) -> None:
    app = build_server(GraderSettings(**LIFTED), local_token=env.tokens["alice"])
    async with Client(app.mcp) as client:
        tools = {t.name: t for t in await client.list_tools()}
        assert tools["final_submissions"].annotations.read_only_hint is True
        sub = (await client.call_tool("submit_predictions", {"dataset": "toy", "predictions": [1.0] * 1000})
               ).structured_content
        shown = (await client.call_tool("final_submissions", {"dataset": "toy"})).structured_content
        assert shown["default"] and shown["submission_ids"] == [sub["submission_id"]] and shown["max_final"] == 2
        chosen = (await client.call_tool("select_final_submissions", {
            "dataset": "toy", "submission_ids": [sub["submission_id"]]})).structured_content
        assert not chosen["default"]
        for bad in ([], [1, 2, 3]):
            with pytest.raises(ToolError):
                await client.call_tool("select_final_submissions", {"dataset": "toy", "submission_ids": bad})
