"""`visible_scores`: the score an agent may see (the function the findings server is to call)."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from mcp_servers.core import TokenStore, create_sqlite_engine
from mcp_servers.grader._board import publish, score_private
from mcp_servers.grader._finals import select_final
from mcp_servers.grader._service import Grader, GraderSettings
from mcp_servers.grader._visible import read_visible_scores


def test_private_scores_visible_only_for_published_finals(env: Any) -> None:
    grader = Grader(GraderSettings(), create_sqlite_engine(env.settings.db_path("grader")))
    who = TokenStore(env.settings.tokens_db).verify(env.tokens["alice"])
    truth = env.truth["toy"]
    best = grader.submit(who, "toy", [float(t) for t in truth], idea="oracle").submission_id  # type: ignore[arg-type]
    other = grader.submit(who, "toy", [1.0] * 1000, idea="ones").submission_id  # type: ignore[arg-type]
    db = env.settings.db_path("grader")
    seen = read_visible_scores(db, [best, other, 999, 2**63])
    assert set(seen) == {best, other} and seen[best].accuracy == 1.0 and seen[best].private_accuracy is None
    select_final(grader, who, "toy", [other])  # type: ignore[arg-type]
    score_private(grader, "toy")  # an operator preview is visible to nobody
    assert read_visible_scores(db, [other])[other].private_accuracy is None
    publish(grader, "toy")
    seen = read_visible_scores(db, [best, other])
    assert seen[other].final and seen[other].private_accuracy is not None and seen[other].published_at is not None
    assert not seen[best].final and seen[best].private_accuracy is None  # never a final: never private-scored
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        conn.execute("DELETE FROM grader_published_score")
    conn.close()
