"""The database against its replica, as an operator's faults would hit it: a lost file, a graceful stop right after
writes, a restore after a crash that lost the replica's tail, a damaged file."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Field, Session, SQLModel

from mcp_servers.core import Replicator, create_sqlite_engine, init_tables, restore
from mcp_servers.core._replica import DatabaseStateError, bump_sequences, check_startup, is_blank
from tests.mcp_servers.server_helpers import REPO, ServerProcess, free_port


class ReplicaProbe(SQLModel, table=True):
    __tablename__ = "replica_probe"
    id: int | None = Field(default=None, primary_key=True)
    note: str = ""


def _insert(db: Path, notes: list[str]) -> list[int]:
    engine = create_sqlite_engine(db, pooled=False)
    init_tables(engine, ReplicaProbe)
    with Session(engine) as session:
        rows = [ReplicaProbe(note=n) for n in notes]
        session.add_all(rows)
        session.commit()
        ids = [r.id for r in rows]
    engine.dispose()
    return [i for i in ids if i is not None]


def _count(db: Path, table: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_integer_ids_use_autoincrement(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    _insert(db, ["x"])
    with sqlite3.connect(db) as conn:
        (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'replica_probe'").fetchone()
    assert "AUTOINCREMENT" in sql


def test_restore_after_a_lost_tail_reuses_no_id(tmp_path: Path) -> None:
    db, url = tmp_path / "a.db", (tmp_path / "replica").as_uri()
    _insert(db, ["before"])
    with Replicator(db, url):
        _insert(db, [f"r{i}" for i in range(5)])
    # Acknowledged after the replicator stopped (as in the last 0.1-0.4 s before a crash): never reaches the replica.
    lost = _insert(db, ["lost-1", "lost-2"])
    restored = restore(url, tmp_path / "restored.db")
    assert _count(restored, "replica_probe") == 6
    floors = bump_sequences(restored)
    new = _insert(restored, ["after"])
    assert new[0] > max(lost) and new[0] == floors["replica_probe"]


def test_point_in_time_restore(tmp_path: Path) -> None:
    db, url = tmp_path / "a.db", (tmp_path / "replica").as_uri()
    _insert(db, ["first"])
    with Replicator(db, url):
        _insert(db, ["second"])
        time.sleep(2.5)
        middle = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        time.sleep(1.5)
        _insert(db, ["third", "fourth"])
    assert _count(restore(url, tmp_path / "latest.db"), "replica_probe") == 4
    assert _count(restore(url, tmp_path / "then.db", timestamp=middle), "replica_probe") == 2


def test_startup_guard_on_blank_and_damaged_files(tmp_path: Path) -> None:
    db, url = tmp_path / "a.db", (tmp_path / "replica").as_uri()
    check_startup(db, url)  # nothing anywhere: a first start
    with Replicator(db, url):
        _insert(db, ["x"])
    db.unlink()
    assert is_blank(db)
    with pytest.raises(DatabaseStateError, match="replica restore"):
        check_startup(db, url)
    db.write_bytes(b"")
    with pytest.raises(DatabaseStateError, match="missing or empty"):
        check_startup(db, url)
    check_startup(db, url, fresh=True)
    db.write_bytes(b"SQLite format 3\x00" + os.urandom(4096))
    with pytest.raises(DatabaseStateError, match=str(db)):
        check_startup(db, None)


def _server_env(home: Path) -> dict[str, str]:
    return {"W2S_LITESTREAM": "true"}


def test_missing_database_with_a_replica_refuses_to_start(w2s_home: Path) -> None:
    server = ServerProcess("mcp_servers.findings", w2s_home, free_port(), **_server_env(w2s_home)).start()
    db = w2s_home / "private" / "state" / "findings.db"
    server.stop()  # graceful: the replica now holds the schema
    db.rename(db.with_suffix(".moved"))
    done = subprocess.run([sys.executable, "-m", "mcp_servers.findings", "--transport", "http", "--port",
                           str(free_port())], cwd=REPO, env=server.env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 2
    assert "refusing to start" in done.stderr and "w2s-admin replica restore findings" in done.stderr
    assert not db.exists()  # nothing was created that litestream could push over the history


def test_truncated_database_names_the_file(w2s_home: Path) -> None:
    server = ServerProcess("mcp_servers.findings", w2s_home, free_port(), W2S_LITESTREAM="false").start()
    server.stop()
    db = w2s_home / "private" / "state" / "findings.db"
    with sqlite3.connect(db) as conn:  # move every page into the main file, where the damage is done
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with db.open("r+b") as handle:
        handle.truncate(db.stat().st_size // 2 or 100)
        handle.seek(100)
        handle.write(os.urandom(512))
    done = subprocess.run([sys.executable, "-m", "mcp_servers.findings", "--transport", "http", "--port",
                           str(free_port())], cwd=REPO, env=server.env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 2 and str(db) in done.stderr and "Traceback" not in done.stderr


def test_sigterm_right_after_writes_leaves_them_in_the_replica(w2s_home: Path, tmp_path: Path) -> None:
    server = ServerProcess("mcp_servers.findings", w2s_home, free_port(), **_server_env(w2s_home)).start()
    db = w2s_home / "private" / "state" / "findings.db"
    time.sleep(1.5)  # litestream has taken its first snapshot
    notes = [f"acknowledged-{i}" for i in range(10)]
    _insert(db, notes)
    assert server.proc is not None
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(60) == 0
    restored = restore((w2s_home / "private" / "state" / "replicas" / "findings").as_uri(), tmp_path / "r.db")
    assert _count(restored, "replica_probe") == len(notes)
