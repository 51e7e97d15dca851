"""The launch's table (live view, `orchestrator status`) and its closing leaderboard.

Per-agent research figures are read from the servers' databases on the operator side, read-only: submissions and
best public PGR from the grader, findings, snapshots. Every string shown (agent names, directions, exit reasons,
idea tags) is escaped: an agent's text never becomes rich markup.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from orchestrator._db import AgentRow, LaunchRow, StateDB
from trainer import paths

STATE_STYLE = {"running": "green", "starting": "cyan", "restarting": "yellow", "failed": "red", "done": "blue",
               "stopped": "magenta"}


@dataclass
class AgentStats:
    submissions: int = 0
    best_pgr: float | None = None
    best_idea: str | None = None
    findings: int = 0
    snapshots: int = 0


@dataclass
class LaunchStats:
    agents: dict[str, AgentStats] = field(default_factory=dict)

    def of(self, agent: str) -> AgentStats:
        return self.agents.setdefault(agent, AgentStats())


def _since(ts: float) -> str:
    """The servers store naive UTC datetimes as text; compare in that format."""
    return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None).isoformat(sep=" ")


def _query(db: Path, sql: str, args: tuple[object, ...]) -> list[tuple[object, ...]]:
    if not db.is_file():
        return []
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=2.0) as conn:
            return conn.execute(sql, args).fetchall()
    except sqlite3.Error:
        return []  # a table not created yet, or a server mid-migration: show nothing rather than fail


def launch_stats(launch: LaunchRow, agents: list[str]) -> LaunchStats:
    state, since, stats = paths().state_dir, _since(launch.started_at), LaunchStats()
    if not agents:
        return stats
    marks = ",".join("?" * len(agents))
    for agent, count, best in _query(
            state / "grader.db", f"SELECT agent, COUNT(*), MAX(reported_pgr) FROM grader_submission WHERE dataset=? "
                                 f"AND created_at>=? AND agent IN ({marks}) GROUP BY agent",
            (launch.dataset, since, *agents)):
        entry = stats.of(str(agent))
        entry.submissions, entry.best_pgr = int(count), (float(best) if best is not None else None)  # type: ignore[arg-type]
    for agent, idea in _query(
            state / "grader.db", f"SELECT agent, idea FROM grader_submission s WHERE dataset=? AND created_at>=? AND "
                                 f"agent IN ({marks}) AND reported_pgr = (SELECT MAX(reported_pgr) FROM "
                                 "grader_submission t WHERE t.agent=s.agent AND t.dataset=s.dataset AND "
                                 "t.created_at>=?) ORDER BY id", (launch.dataset, since, *agents, since)):
        stats.of(str(agent)).best_idea = None if idea is None else str(idea)
    for agent, count in _query(state / "findings.db", f"SELECT agent, COUNT(*) FROM findings_finding WHERE "
                               f"created_at>=? AND agent IN ({marks}) GROUP BY agent", (since, *agents)):
        stats.of(str(agent)).findings = int(count)  # type: ignore[call-overload]
    for agent, count in _query(state / "snapshot.db", f"SELECT agent, COUNT(*) FROM snapshot_snapshot WHERE "
                               f"created_at>=? AND agent IN ({marks}) GROUP BY agent", (since, *agents)):
        stats.of(str(agent)).snapshots = int(count)  # type: ignore[call-overload]
    return stats


def _elapsed(row: AgentRow, now: float) -> str:
    seconds = int((row.ended_at or now) - row.started_at) if row.state not in ("running", "restarting", "starting") \
        else int(now - row.started_at)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def agents_table(db: StateDB, launch: LaunchRow) -> Table:
    rows = db.agents(launch.id)
    stats = launch_stats(launch, [r.name for r in rows])
    now = time.time()
    left = "" if launch.deadline is None else f", {max(0, int(launch.deadline - now)) // 60} min left"
    title = f"launch {escape(launch.id)}: {launch.n_agents} {escape(launch.agent_kind)} agent(s) on " \
            f"{escape(launch.dataset)}, {escape(launch.state)}{left}"
    table = Table("agent", "direction", "state", "elapsed", "best PGR", "subs", "findings", "snaps", "cost $",
                  "restarts", "last exit", title=title)
    for row in rows:
        entry = stats.of(row.name)
        style = STATE_STYLE.get(row.state, "white")
        table.add_row(escape(row.name), escape(row.direction), f"[{style}]{escape(row.state)}[/]", _elapsed(row, now),
                      "-" if entry.best_pgr is None else f"{entry.best_pgr:.3f}", str(entry.submissions),
                      str(entry.findings), str(entry.snapshots), f"{row.cost_usd:.2f}", str(row.restarts),
                      escape((row.exit_reason or "")[:60]))
    return table


def leaderboard(db: StateDB, launch: LaunchRow) -> tuple[Table, str]:
    """Best public PGR per agent, best first, and one line naming the best idea of the launch."""
    rows = db.agents(launch.id)
    stats = launch_stats(launch, [r.name for r in rows])
    ranked = sorted(rows, key=lambda r: -(stats.of(r.name).best_pgr if stats.of(r.name).best_pgr is not None
                                          else float("-inf")))
    table = Table("rank", "agent", "direction", "best public PGR", "idea", "submissions",
                  title=f"leaderboard: {escape(launch.dataset)} (public part of test)")
    for rank, row in enumerate(ranked, 1):
        entry = stats.of(row.name)
        table.add_row(str(rank), escape(row.name), escape(row.direction),
                      "-" if entry.best_pgr is None else f"{entry.best_pgr:.3f}", escape(entry.best_idea or "-"),
                      str(entry.submissions))
    best = next((r for r in ranked if stats.of(r.name).best_pgr is not None), None)
    if best is None:
        return table, "no graded submission in this launch"
    entry = stats.of(best.name)
    return table, f"best idea: {escape(entry.best_idea or '?')} by {escape(best.name)} (public PGR {entry.best_pgr:.3f})"
