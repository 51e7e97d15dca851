from __future__ import annotations

import json
from typing import Any

from mcp_servers.core import TokenStore, create_sqlite_engine
from mcp_servers.grader._board import leaderboard, publish, score_private
from mcp_servers.grader._service import Grader, GraderSettings


def test_private_scoring_and_publication(env: Any) -> None:
    grader = Grader(GraderSettings(), create_sqlite_engine(env.settings.db_path("grader")))
    tokens = TokenStore(env.settings.tokens_db)
    truth = env.truth["toy"]
    grader.submit(tokens.verify(env.tokens["alice"]), "toy", [float(t) for t in truth], idea="oracle")  # type: ignore[arg-type]
    grader.submit(tokens.verify(env.tokens["bob"]), "toy", [1.0] * 1000, idea="ones")  # type: ignore[arg-type]
    assert all(e.private_accuracy is None for e in leaderboard(grader, "toy").entries)
    rows = score_private(grader, "toy")
    assert len(rows) == 2 and max(r.accuracy for r in rows) == 1.0
    assert all(e.private_accuracy is None for e in leaderboard(grader, "toy").entries)  # not yet published
    path = publish(grader, "toy")
    board = leaderboard(grader, "toy")
    assert board.published_at is not None and board.entries[0].private_accuracy == 1.0
    assert json.loads(path.read_text())["entries"][0]["agent"] == "alice"


def test_board_shows_how_a_number_came_about(env: Any) -> None:
    """Next to a public number: the agent's submissions and Ladder improvements behind it, its flags."""
    grader = Grader(GraderSettings(rate_limit_per_minute=0), create_sqlite_engine(env.settings.db_path("grader")))
    who = TokenStore(env.settings.tokens_db).verify(env.tokens["alice"])
    truth = env.truth["toy"]
    for right in (600, 600, 700, 650, 900):
        grader.submit(who, "toy", [float(t) if i < right else 1.0 - t for i, t in enumerate(truth)],  # type: ignore[arg-type]
                      idea=f"r{right}")
    board = leaderboard(grader, "toy")
    top = board.entries[0]
    assert top.idea == "r900" and top.agent_submissions == 5 and top.agent_improvements == 3
    summary = board.agents[0]
    assert (summary.submissions, summary.improvements, summary.flagged) == (5, 3, 1)  # the repeat is a duplicate
    assert summary.final_default and summary.final_submission_ids == [top.best_submission_id]
    assert summary.private_accuracy is None and summary.gap_accuracy is None  # nothing published yet
