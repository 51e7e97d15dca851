"""The launch table and leaderboard: figures from the grader's, findings' and snapshot's records of this launch,
every agent-written string shown as text (never rich markup)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console

from mcp_servers.core import create_sqlite_engine, init_tables, write_session
from mcp_servers.grader._records import SubmissionRow
from orchestrator._db import AgentRow, LaunchRow, StateDB
from orchestrator._view import agents_table, launch_stats, leaderboard
from trainer import paths


def _submission(agent: str, pgr: float | None, idea: str, when: datetime) -> SubmissionRow:
    return SubmissionRow(agent=agent, dataset="sentiment", created_at=when, idea=idea, kind="hard",
                         n=1, predictions=b"", predictions_sha256="", hard_bits=b"", exact_json="{}",
                         reported_accuracy=0.8, reported_pgr=pgr, reported_json="{}", improved=True)


def _render(renderable: object) -> str:
    console = Console(width=250, record=True)
    console.print(renderable)
    return console.export_text()


def test_table_and_leaderboard_count_this_launch_only_and_escape(w2s_home: Path) -> None:
    db = StateDB()
    start = time.time()
    launch = LaunchRow(id="L1", started_at=start, n_agents=2, agent_kind="evolve", dataset="sentiment", pid=1,
                       state="running")
    db.add_launch(launch)
    for name in ("evolve1", "evolve2"):
        db.upsert_agent(AgentRow(name=name, launch_id="L1", kind="evolve", direction="[red]open[/]",
                                 state="running", started_at=start, exit_reason="[bold]boom[/]"))
    engine = create_sqlite_engine(paths().state_dir / "grader.db")
    init_tables(engine, SubmissionRow)
    now = datetime.now(UTC)
    with write_session(engine) as session:
        session.add(_submission("evolve1", 0.9, "old-launch", now - timedelta(hours=1)))
        session.add(_submission("evolve1", 0.4, "logconf", now + timedelta(seconds=1)))
        session.add(_submission("evolve1", 0.6, "[link=x]best[/link]", now + timedelta(seconds=2)))
        session.add(_submission("evolve2", None, "none", now + timedelta(seconds=3)))
    stats = launch_stats(launch, ["evolve1", "evolve2"])
    assert (stats.of("evolve1").submissions, stats.of("evolve1").best_pgr) == (2, 0.6)
    assert stats.of("evolve1").best_idea == "[link=x]best[/link]" and stats.of("evolve2").best_pgr is None
    text = _render(agents_table(db, launch))
    assert "[red]open[/]" in text and "[bold]boom[/]" in text and "0.600" in text
    table, best = leaderboard(db, launch)
    board = _render(table)
    assert board.index("evolve1") < board.index("evolve2")
    assert _render(best).strip() == "best idea: [link=x]best[/link] by evolve1 (public PGR 0.600)"
