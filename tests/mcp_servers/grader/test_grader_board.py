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
