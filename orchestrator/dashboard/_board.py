"""The leaderboard and PGR over time, from the grader's own stored scores (the Ladder-reported public numbers).

Mirrors the grader's `leaderboard` tool (best stored submission per agent and idea; private scores once the
operator published them) but reads the grader database read-only, so the dashboard needs no label store and can
never expose a hidden label: it reads no predictions and no exact scores, only what the grader answered.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime

from pydantic import BaseModel, Field

from mcp_servers.grader._calibration import read_calibration
from orchestrator.dashboard._sources import Sources, rows

_DECIMALS = 3


def epoch(value: str | float | datetime | None) -> float | None:
    """SQLite timestamps (ISO text written by sqlmodel, naive means UTC, or epoch seconds) as epoch seconds."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


class Submission(BaseModel):
    id: int
    agent: str
    dataset: str
    at: float
    idea: str | None
    seed: int | None
    accuracy: float
    pgr: float | None
    id_accuracy: float | None
    ood_accuracy: float | None
    flags: list[str]
    private_accuracy: float | None = None
    private_pgr: float | None = None


class BoardEntry(BaseModel):
    agent: str
    idea: str | None
    best: Submission
    submissions: int = Field(description="how many submissions the best was picked from (best-of-n)")
    seeds: int
    flagged: int


class Board(BaseModel):
    dataset: str
    weak_acc: float | None
    strong_acc: float | None
    published_at: float | None
    entries: list[BoardEntry]


_SELECT = """
SELECT s.id, s.agent, s.dataset, s.created_at, s.idea, s.seed, s.reported_accuracy, s.reported_pgr,
       s.reported_id_accuracy, s.reported_ood_accuracy, s.flags,
       (SELECT p.accuracy FROM grader_private_score p WHERE p.submission_id = s.id AND p.scored_at <=
           (SELECT MAX(b.published_at) FROM grader_publication b WHERE b.dataset = s.dataset)
        ORDER BY p.id DESC LIMIT 1) AS private_accuracy,
       (SELECT p.pgr FROM grader_private_score p WHERE p.submission_id = s.id AND p.scored_at <=
           (SELECT MAX(b.published_at) FROM grader_publication b WHERE b.dataset = s.dataset)
        ORDER BY p.id DESC LIMIT 1) AS private_pgr
FROM grader_submission s
"""


def _flags(raw: str | None) -> list[str]:
    try:
        value = json.loads(raw or "[]")
    except ValueError:
        return ["unreadable flags"]
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), _DECIMALS)


def submissions(sources: Sources, dataset: str | None = None, ids: list[int] | None = None) -> list[Submission]:
    """Stored submissions in id order (one dataset, some ids, or all)."""
    where, params = [], []
    if dataset is not None:
        where.append("s.dataset = ?")
        params.append(dataset)
    if ids is not None:
        if not ids:
            return []
        where.append(f"s.id IN ({', '.join('?' * len(ids))})")
        params.extend(ids)
    sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY s.id"
    return [Submission(
        id=r["id"], agent=r["agent"], dataset=r["dataset"], at=epoch(r["created_at"]) or 0.0, idea=r["idea"],
        seed=r["seed"], accuracy=r["reported_accuracy"], pgr=r["reported_pgr"], id_accuracy=r["reported_id_accuracy"],
        ood_accuracy=r["reported_ood_accuracy"], flags=_flags(r["flags"]),
        private_accuracy=_round(r["private_accuracy"]), private_pgr=_round(r["private_pgr"]),
    ) for r in rows(sources, "grader", "grader_submission", sql, tuple(params))]


def datasets(sources: Sources) -> list[str]:
    found = rows(sources, "grader", "grader_submission", "SELECT DISTINCT dataset FROM grader_submission")
    launched = rows(sources, "orchestrator", "launch", "SELECT DISTINCT dataset FROM launch")
    return sorted({r[0] for r in found} | {r[0] for r in launched if r[0]})


def board(sources: Sources, dataset: str) -> Board:
    """Best per agent and idea, ranked as the grader ranks it (private accuracy once published, then public)."""
    groups: dict[tuple[str, str | None], list[Submission]] = defaultdict(list)
    for sub in submissions(sources, dataset):
        groups[(sub.agent, sub.idea)].append(sub)
    entries = []
    for members in groups.values():
        best = max(members, key=lambda s: (s.accuracy, -s.id))
        entries.append(BoardEntry(agent=best.agent, idea=best.idea, best=best, submissions=len(members),
                                  seeds=len({m.seed for m in members if m.seed is not None}),
                                  flagged=sum(1 for m in members if m.flags)))
    entries.sort(key=lambda e: (-(e.best.private_accuracy if e.best.private_accuracy is not None else -1),
                                -e.best.accuracy, e.best.id))
    published = rows(sources, "grader", "grader_publication",
                     "SELECT MAX(published_at) FROM grader_publication WHERE dataset = ?", (dataset,))
    cal = _calibration(sources, dataset)
    return Board(dataset=dataset, weak_acc=None if cal is None else _round(cal[0]),
                 strong_acc=None if cal is None else _round(cal[1]),
                 published_at=epoch(published[0][0]) if published and published[0][0] else None, entries=entries)


def _calibration(sources: Sources, dataset: str) -> tuple[float, float] | None:
    # The calibration file holds two mean accuracies, not labels; a dashboard without the label store mounted
    # (compose) simply shows no reference line.
    try:
        cal = read_calibration(sources.label_store, dataset)
    except (OSError, ValueError):
        return None
    return None if cal is None else (cal.weak_acc, cal.strong_acc)


class Point(BaseModel):
    at: float
    pgr: float
    submission_id: int
    idea: str | None


def pgr_over_time(sources: Sources, dataset: str) -> dict[str, list[Point]]:
    """Per agent, its best public PGR so far after each submission that raised it (a staircase)."""
    series: dict[str, list[Point]] = defaultdict(list)
    for sub in submissions(sources, dataset):
        if sub.pgr is None:
            continue
        points = series[sub.agent]
        if not points or sub.pgr > points[-1].pgr:
            points.append(Point(at=sub.at, pgr=sub.pgr, submission_id=sub.id, idea=sub.idea))
    return dict(series)
