"""The orchestrator state database: the schema others read (INTERFACES.md #5), totals and sessions."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from orchestrator._db import AgentRow, ApiCallRow, LaunchRow, StateDB, db_path

SCHEMA = {
    "launch": {"id", "started_at", "ended_at", "n_agents", "agent_kind", "dataset", "deadline", "pid", "state"},
    "agent": {"name", "launch_id", "kind", "direction", "state", "pid", "started_at", "ended_at", "restarts",
              "exit_reason", "cost_usd", "input_tokens", "output_tokens", "sandbox"},
    "agent_session": {"id", "agent", "launch_id", "started_at", "ended_at", "exit_code", "exit_reason", "cost_usd",
                      "num_turns", "transcript"},
    "api_call": {"id", "agent", "launch_id", "at", "model", "input_tokens", "output_tokens", "cost_usd", "status"},
}


def test_schema_is_the_agreed_one(w2s_home: Path) -> None:
    db = StateDB()
    assert db.path == db_path() and db.path.name == "orchestrator.db"
    with sqlite3.connect(db.path) as conn:
        for table, columns in SCHEMA.items():
            found = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
            assert found == columns, table
    assert oct(db.path.stat().st_mode & 0o777) == "0o600"


def test_calls_add_up_per_agent_and_launch(w2s_home: Path) -> None:
    db = StateDB()
    now = time.time()
    db.add_launch(LaunchRow(id="L1", started_at=now, n_agents=1, agent_kind="claude", dataset="d", pid=1))
    db.upsert_agent(AgentRow(name="a1", launch_id="L1", kind="claude", direction="open", started_at=now))
    assert db.record_call(ApiCallRow(agent="a1", launch_id="L1", at=now, input_tokens=10, output_tokens=2,
                                     cost_usd=0.5, status=200)) == 0.5
    assert db.record_call(ApiCallRow(agent="a1", launch_id="L1", at=now, cost_usd=0.25, status=200)) == 0.75
    row = db.agent("a1")
    assert row is not None and (row.cost_usd, row.input_tokens, row.output_tokens) == (0.75, 10, 2)
    # A relaunch reuses the name: the row starts over, the old launch's calls stay recorded.
    db.upsert_agent(AgentRow(name="a1", launch_id="L2", kind="claude", direction="open", started_at=now))
    assert db.agent("a1").cost_usd == 0.0  # type: ignore[union-attr]
    assert len(db.calls("a1", "L1")) == 2 and db.calls("a1", "L2") == []
    sid = db.open_session("a1", "L2", "/t.jsonl")
    db.close_session(sid, -9, "killed by SIGKILL", cost_usd=0.1, num_turns=3)
    (session,) = db.sessions("a1", "L2")
    assert (session.exit_code, session.exit_reason, session.num_turns) == (-9, "killed by SIGKILL", 3)
    db.end_launch("L1", "stopped")
    assert db.launch("L1").state == "stopped" and db.launch("L1").ended_at is not None  # type: ignore[union-attr]
