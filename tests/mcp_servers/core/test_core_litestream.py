from __future__ import annotations

import sqlite3
import subprocess
import sys
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


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux-only")
def test_replicator_dies_with_a_killed_server(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    sqlite3.connect(db).execute("PRAGMA journal_mode=WAL").close()
    script = ("import sys, time\nfrom pathlib import Path\nfrom mcp_servers.core import Replicator\n"
              f"r = Replicator(Path({str(db)!r}), {(tmp_path / 'replica').as_uri()!r}).start()\n"
              "print(r.process.pid, flush=True)\ntime.sleep(600)\n")
    server = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[3])
    child = int(server.stdout.readline())  # type: ignore[union-attr]
    assert _alive(child)
    server.kill()  # kill -9: no cleanup code runs in the server
    server.wait()
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child), "litestream outlived its server"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited; only its parent (init here) has not reaped it yet
