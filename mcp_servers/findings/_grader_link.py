"""The findings server's only view of the grader: read-only lookups of stored submissions and their scores.

It opens `<state_dir>/grader.db` with SQLite's `mode=ro` URI and reads the grader's append-only tables, so the
numbers shown with a finding are the ones the grader answered, never the agent's own. Everything the findings
server knows about the grader goes through `GraderLink`; replacing it with an HTTP call later touches this file
only.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field

from mcp_servers.core import BUSY_TIMEOUT_MS
from mcp_servers.findings._clean import finite_or_none


class GraderScore(BaseModel):
    """One grader submission as the grader scored it (public part, rounded, Ladder-reported)."""

    submission_id: int
    agent: str
    dataset: str
    submitted_at: datetime
    idea: str | None = None
    accuracy: float
    pgr: float | None = None
    id_accuracy: float | None = None
    ood_accuracy: float | None = None
    flags: list[str] = Field(default_factory=list, description="grader integrity flags (e.g. near-duplicate)")
    private_accuracy: float | None = Field(default=None, description="published private-part accuracy")
    private_pgr: float | None = None


_SUBMISSIONS = """
SELECT s.id, s.agent, s.dataset, s.created_at, s.idea, s.reported_accuracy, s.reported_pgr,
       s.reported_id_accuracy, s.reported_ood_accuracy, s.flags,
       (SELECT p.accuracy FROM grader_private_score p WHERE p.submission_id = s.id AND p.scored_at <=
           (SELECT MAX(b.published_at) FROM grader_publication b WHERE b.dataset = s.dataset)
        ORDER BY p.id DESC LIMIT 1),
       (SELECT p.pgr FROM grader_private_score p WHERE p.submission_id = s.id AND p.scored_at <=
           (SELECT MAX(b.published_at) FROM grader_publication b WHERE b.dataset = s.dataset)
        ORDER BY p.id DESC LIMIT 1)
FROM grader_submission s WHERE s.id IN ({marks})
"""


def _time(value: str | datetime) -> datetime:
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class GraderUnavailable(RuntimeError):
    """The grader database cannot be read (not created yet, or unreadable)."""


class GraderLink:
    """Read-only access to the grader's submissions at `db_path`."""

    def __init__(self, db_path: Path, decimals: int = 3) -> None:
        self.db_path, self.decimals = db_path, decimals

    def _connect(self) -> sqlite3.Connection:
        if not self.db_path.is_file():
            raise GraderUnavailable(f"no grader database at {self.db_path}")
        try:
            conn = sqlite3.connect(f"{self.db_path.resolve().as_uri()}?mode=ro", uri=True,
                                   timeout=BUSY_TIMEOUT_MS / 1000)
        except sqlite3.Error as exc:
            raise GraderUnavailable(str(exc)) from None
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        return conn

    def submissions(self, ids: Iterable[int]) -> dict[int, GraderScore]:
        """Scores of the submissions among `ids` that exist (unknown ids are simply absent)."""
        wanted = sorted({int(i) for i in ids})
        if not wanted:
            return {}
        out: dict[int, GraderScore] = {}
        try:
            with closing(self._connect()) as conn:
                for start in range(0, len(wanted), 500):
                    chunk = wanted[start:start + 500]
                    rows = conn.execute(_SUBMISSIONS.format(marks=",".join("?" * len(chunk))), chunk).fetchall()
                    for r in rows:
                        out[int(r[0])] = GraderScore(
                            submission_id=r[0], agent=r[1], dataset=r[2], submitted_at=_time(r[3]), idea=r[4],
                            accuracy=r[5], pgr=finite_or_none(r[6]), id_accuracy=finite_or_none(r[7]),
                            ood_accuracy=finite_or_none(r[8]),
                            flags=json.loads(r[9] or "[]"), private_accuracy=self._round(r[10]),
                            private_pgr=self._round(r[11]))
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return {}
            raise GraderUnavailable(str(exc)) from None
        return out

    def version(self) -> str:
        """Changes whenever a grader score of an existing submission can have changed (private publication)."""
        try:
            with closing(self._connect()) as conn:
                row = conn.execute("SELECT (SELECT COALESCE(MAX(id), 0) FROM grader_private_score), "
                                   "(SELECT COALESCE(MAX(id), 0) FROM grader_publication)").fetchone()
        except (GraderUnavailable, sqlite3.OperationalError):
            return ""
        return f"{row[0]}.{row[1]}"

    def _round(self, value: float | None) -> float | None:
        if value is None or not math.isfinite(float(value)):
            return None  # a NaN score is no score: null, never a value that strict JSON readers refuse
        return round(float(value), self.decimals)
