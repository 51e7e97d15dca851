"""Restore benchmark: how long a fresh host takes to get every database back from S3-compatible storage.

    python benchmarks/restore_bench.py [--rows 20000] [--commits 200] [--payload 400]

Five databases (grader, findings, snapshot, tokens, orchestrator) of `--rows` rows each, written in `--commits`
transactions while one litestream process (`ConfigReplicator`, as `w2s-admin replica run`) streams them to moto's S3
server on loopback; then `w2s-admin replica restore --all` into an empty W2S_HOME, timed end to end (dry-run probes,
downloads, id bumps, row counts). Same-run baseline: copying the same databases on the local disk (SQLite backup
API), so the ratio shows what the replica's LTX files and the S3 round trips cost. moto keeps objects in memory:
a real S3 endpoint adds network latency per object (litestream downloads 8 in parallel).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
NAMES = ("grader", "findings", "snapshot", "tokens", "orchestrator")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write(db: Path, rows: int, commits: int, payload: int, offset: int) -> None:
    per = max(1, rows // commits)
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS row (id INTEGER PRIMARY KEY AUTOINCREMENT, agent TEXT, body TEXT)")
        for start in range(offset, offset + rows, per):
            conn.executemany("INSERT INTO row (agent, body) VALUES (?, ?)",
                             [(f"agent-{i % 9}", os.urandom(payload // 2).hex()) for i in range(start, start + per)])
            conn.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000, help="rows per database")
    parser.add_argument("--commits", type=int, default=200, help="transactions per database")
    parser.add_argument("--payload", type=int, default=400, help="bytes of text per row")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="w2s-restore-bench-"))
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    moto = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                httpx.get(endpoint, timeout=0.5)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        os.environ.update(W2S_HOME=str(tmp / "host1"), W2S_REPLICA_URL="s3://w2s-bench/run",
                          W2S_REPLICA_ENDPOINT=endpoint, W2S_REPLICA_REGION="us-east-1",
                          W2S_REPLICA_FORCE_PATH_STYLE="true", AWS_ACCESS_KEY_ID="bench",
                          AWS_SECRET_ACCESS_KEY="bench", AWS_REGION="us-east-1")
        import boto3

        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="w2s-bench")
        from typer.testing import CliRunner

        from mcp_servers.core._cli import _settings_for, database_path, replica_app
        from mcp_servers.core._litestream import ConfigReplicator

        dbs = {database_path(n): _settings_for(n).replica_for(n) for n in NAMES}
        for db in dbs:
            db.parent.mkdir(parents=True, exist_ok=True)
            _write(db, 10, 1, args.payload, 0)  # the files exist before litestream watches them
        started = time.monotonic()
        with ConfigReplicator(dbs, tmp / "host1" / "litestream.yml"):
            for db in dbs:
                _write(db, args.rows, args.commits, args.payload, 10)
            write_s = time.monotonic() - started
        replicated_s = time.monotonic() - started
        size = sum(db.stat().st_size + (db.with_name(db.name + "-wal").stat().st_size
                                        if db.with_name(db.name + "-wal").exists() else 0) for db in dbs)

        local = tmp / "local-copy"
        local.mkdir()
        started = time.monotonic()
        for db in dbs:
            with sqlite3.connect(db) as source, sqlite3.connect(local / db.name) as target:
                source.backup(target)
        copy_s = time.monotonic() - started

        os.environ["W2S_HOME"] = str(tmp / "host2")
        started = time.monotonic()
        done = CliRunner().invoke(replica_app, ["restore", "--all"])
        restore_s = time.monotonic() - started
        if done.exit_code != 0:
            raise SystemExit(f"restore failed: {done.output}")
        rows = {n: sqlite3.connect(database_path(n)).execute("SELECT count(*) FROM row").fetchone()[0] for n in NAMES}
        expected = args.rows // max(1, args.rows // args.commits) * max(1, args.rows // args.commits) + 10
        print(json.dumps({
            "databases": len(NAMES), "rows_per_db": rows, "rows_expected_per_db": expected,
            "all_rows_back": all(r == expected for r in rows.values()),
            "bytes_total": size, "write_s": round(write_s, 2), "write_and_flush_s": round(replicated_s, 2),
            "restore_all_from_s3_s": round(restore_s, 2), "local_copy_baseline_s": round(copy_s, 3),
            "restore_vs_local_copy": round(restore_s / max(copy_s, 1e-6), 1),
        }, indent=2))
    finally:
        moto.terminate()
        moto.wait(10)
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
