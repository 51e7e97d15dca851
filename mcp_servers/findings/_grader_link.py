"""The findings server's only view of the grader: read-only lookups of stored submissions and their scores.

It opens `<state_dir>/grader.db` with SQLite's `mode=ro` URI and reads the grader's append-only tables, so the
numbers shown with a finding are the ones the grader answered, never the agent's own. Everything the findings
server knows about the grader goes through `GraderLink`; replacing it with an HTTP call later touches this file
only.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable
from contextlib import closing
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field

from mcp_servers.core import BUSY_TIMEOUT_MS
from mcp_servers.findings._clean import finite_or_none
from mcp_servers.grader import visible_scores


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
    final: bool = Field(False, description="a published final selection (only these ever get private scores)")
    private_accuracy: float | None = Field(default=None, description="published private-part accuracy")
    private_pgr: float | None = None


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
                # The grader's one definition of what anyone but the operator may see (public as answered,
                # private only for published final selections).
                for sid, v in visible_scores(conn, wanted, self.decimals).items():
                    out[sid] = GraderScore(
                        submission_id=sid, agent=v.agent, dataset=v.dataset, submitted_at=v.submitted_at,
                        idea=v.idea, accuracy=v.accuracy, pgr=finite_or_none(v.pgr),
                        id_accuracy=finite_or_none(v.id_accuracy), ood_accuracy=finite_or_none(v.ood_accuracy),
                        flags=v.flags, final=v.final, private_accuracy=self._round(v.private_accuracy),
                        private_pgr=self._round(v.private_pgr))
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return {}
            raise GraderUnavailable(str(exc)) from None
        return out

    def version(self) -> str:
        """Changes whenever a grader score of an existing submission can have changed (private publication)."""
        try:
            with closing(self._connect()) as conn:
                row = conn.execute("SELECT (SELECT COALESCE(MAX(id), 0) FROM grader_published_score), "
                                   "(SELECT COALESCE(MAX(id), 0) FROM grader_publication)").fetchone()
        except (GraderUnavailable, sqlite3.OperationalError):
            return ""
        return f"{row[0]}.{row[1]}"

    def _round(self, value: float | None) -> float | None:
        if value is None or not math.isfinite(float(value)):
            return None  # a NaN score is no score: null, never a value that strict JSON readers refuse
        return round(float(value), self.decimals)
