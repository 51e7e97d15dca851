"""Every database is opened read-only; a missing one reads as empty and is never created."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from orchestrator.dashboard._sources import Sources, has_table, rows
from tests.orchestrator.dashboard.dash_helpers import DEnv


def test_connections_are_read_only(denv: DEnv) -> None:
    sources = denv.sources
    with sources.connect("grader") as conn:
        assert conn is not None and has_table(conn, "grader_submission")
        with pytest.raises(sqlite3.OperationalError):
            conn.execute("CREATE TABLE planted (x)")
        with pytest.raises(sqlite3.OperationalError):
            conn.execute("DELETE FROM grader_submission")


def test_missing_database_reads_empty_and_is_not_created(w2s_home: Path) -> None:
    sources = Sources.from_env()
    with sources.connect("orchestrator") as conn:
        assert conn is None
    assert rows(sources, "orchestrator", "agent", "SELECT * FROM agent") == []
    assert not sources.db("orchestrator").exists()


def test_unknown_database_is_refused(w2s_home: Path) -> None:
    with pytest.raises(ValueError, match="unknown database"):
        Sources.from_env().db("../tokens")


def test_slots_from_the_compute_setting(w2s_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("W2S_COMPUTE_SLOTS", "3")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert Sources.from_env().slots == 3


def test_unreadable_database_is_reported_not_fatal(w2s_home: Path) -> None:
    sources = Sources.from_env()
    sources.state_dir.mkdir(parents=True)
    sources.db("grader").write_bytes(b"this is not a database" * 100)
    assert rows(sources, "grader", "grader_submission", "SELECT * FROM grader_submission") == []
    assert "grader.db" in sources.errors["grader"]


def test_jobs_db_and_snapshot_store_elsewhere(w2s_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Compose keeps the jobs db in the compute service's volume and the snapshot store in its own."""
    monkeypatch.setenv("W2S_JOBS_DB", str(tmp_path / "compute" / "jobs.db"))
    monkeypatch.setenv("W2S_SNAPSHOT_STORE_DIR", str(tmp_path / "snaps"))
    sources = Sources.from_env()
    assert sources.db("jobs") == tmp_path / "compute" / "jobs.db"
    assert sources.snapshot_objects == tmp_path / "snaps" / "objects"
    assert sources.db("grader") == sources.state_dir / "grader.db"
