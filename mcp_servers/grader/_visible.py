"""The score an agent may see: the one definition every reader of the grader's records goes through.

Public numbers are the ones the agent was answered (rounded, Ladder-reported). A private number is visible only
when a publication made it visible, which happens for final selections only (`grader_published_score`); a
private score the operator computed (a preview, an audit) is never shown. The leaderboard uses this, and so
must any other server that shows grader scores (the findings server): call `visible_scores(conn, ids)` with a
read-only `sqlite3` connection to `<state_dir>/grader.db`, or `read_visible_scores(db_path, ids)`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

_SQL = """
SELECT s.id, s.agent, s.dataset, s.created_at, s.idea, s.reported_accuracy, s.reported_pgr,
       s.reported_id_accuracy, s.reported_ood_accuracy, s.flags, ps.accuracy, ps.pgr, ps.id_accuracy,
       ps.ood_accuracy, pub.published_at
FROM grader_submission s
LEFT JOIN grader_published_score ps
       ON ps.id = (SELECT MAX(q.id) FROM grader_published_score q WHERE q.submission_id = s.id)
LEFT JOIN grader_publication pub ON pub.id = ps.publication_id
WHERE s.id IN ({marks})
"""


class VisibleScore(BaseModel):
    """One submission's scores as anyone but the operator may see them."""

    submission_id: int
    agent: str
    dataset: str
    submitted_at: datetime
    idea: str | None = None
    accuracy: float = Field(description="public part, as the agent was answered (Ladder-reported)")
    pgr: float | None = None
    id_accuracy: float | None = None
    ood_accuracy: float | None = None
    flags: list[str] = Field(default_factory=list)
    final: bool = Field(False, description="a published final selection (only these ever get private scores)")
    private_accuracy: float | None = Field(default=None, description="published private-part accuracy")
    private_pgr: float | None = None
    private_id_accuracy: float | None = None
    private_ood_accuracy: float | None = None
    published_at: datetime | None = None


def _time(value: str | datetime | None) -> datetime | None:
    if value is None:
        return None
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _round(value: Any, decimals: int) -> float | None:
    return None if value is None else round(float(value), decimals)


def visible_scores(conn: Any, ids: Iterable[int], decimals: int = 3) -> dict[int, VisibleScore]:
    """Scores of the submissions among `ids` that exist (DB-API connection to the grader database)."""
    wanted = sorted({int(i) for i in ids if 0 < int(i) < 2**63})
    out: dict[int, VisibleScore] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        cursor = conn.execute(_SQL.format(marks=",".join("?" * len(chunk))), chunk)
        for r in cursor.fetchall():
            out[int(r[0])] = VisibleScore(
                submission_id=r[0], agent=r[1], dataset=r[2], submitted_at=_time(r[3]), idea=r[4],
                accuracy=r[5], pgr=r[6], id_accuracy=r[7], ood_accuracy=r[8], flags=json.loads(r[9] or "[]"),
                final=r[14] is not None, private_accuracy=_round(r[10], decimals),
                private_pgr=_round(r[11], decimals), private_id_accuracy=_round(r[12], decimals),
                private_ood_accuracy=_round(r[13], decimals), published_at=_time(r[14]))
    return out


def read_visible_scores(db_path: Path, ids: Iterable[int], decimals: int = 3,
                        timeout_s: float = 5.0) -> dict[int, VisibleScore]:
    """`visible_scores` over a read-only connection opened (and closed) here."""
    conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True, timeout=timeout_s)
    with closing(conn):
        return visible_scores(conn, ids, decimals)
