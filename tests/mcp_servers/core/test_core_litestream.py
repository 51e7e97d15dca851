from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from mcp_servers.core import LitestreamError, Replicator, litestream_binary, restore


def test_replicate_then_restore(tmp_path: Path) -> None:
    litestream_binary()
    db = tmp_path / "a.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (x INTEGER)")
    url = (tmp_path / "replica").as_uri()
    with Replicator(db, url):
        with sqlite3.connect(db) as conn:
            conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(100)])
        deadline, count = time.monotonic() + 20, 0
        while time.monotonic() < deadline and count != 100:
            time.sleep(0.5)
            out = tmp_path / f"probe-{time.monotonic_ns()}.db"
            try:
                with sqlite3.connect(restore(url, out)) as conn:
                    count = conn.execute("SELECT count(*) FROM t").fetchone()[0]
            except (LitestreamError, sqlite3.Error):
                continue
    assert count == 100
    with pytest.raises(LitestreamError, match="exists"):
        restore(url, db)
