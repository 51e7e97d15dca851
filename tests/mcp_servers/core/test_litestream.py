from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mcp_servers.core import LitestreamError, Replicator, litestream_binary, restore
from mcp_servers.core._litestream import replica_exists


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


@pytest.fixture(scope="module")
def moto():  # type: ignore[no-untyped-def]
    from tests.mcp_servers.s3_server import moto_server

    with moto_server() as server:
        yield server


@pytest.fixture
def s3(moto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    for name, value in moto.replica_env(tmp_path.name).items():  # a prefix per test
        monkeypatch.setenv(name, value)
    return moto


def _table(db: Path, rows: int) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
        conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(rows)])


def test_replicate_to_s3_then_restore(tmp_path: Path, s3) -> None:  # type: ignore[no-untyped-def]
    from mcp_servers.core import ServerSettings

    url = ServerSettings().replica_for("probe")
    assert url.startswith(f"s3://w2s-replicas/{tmp_path.name}/probe?") and "forcePathStyle=true" in url
    assert "testing" not in url  # credentials stay in the environment
    db = tmp_path / "a.db"
    _table(db, 10)
    with Replicator(db, url):
        _table(db, 90)  # written while replicating: stop() waits until S3 holds it
    keys = [o["Key"] for o in s3.client().list_objects_v2(Bucket=s3.bucket, Prefix=f"{tmp_path.name}/probe/")["Contents"]]
    assert keys and all(k.endswith(".ltx") for k in keys)
    with sqlite3.connect(restore(url, tmp_path / "back.db")) as conn:
        assert conn.execute("SELECT count(*), sum(x) FROM t").fetchone() == (100, sum(range(10)) + sum(range(90)))
    # what the refuse-to-start guard and `restore --all` ask of an S3 replica
    assert replica_exists(url) and not replica_exists(ServerSettings().replica_for("never-written"))


def test_config_replicator_streams_several_databases_with_a_private_config(tmp_path: Path, s3) -> None:  # type: ignore[no-untyped-def]
    import stat

    from mcp_servers.core import ServerSettings
    from mcp_servers.core._litestream import ConfigReplicator

    settings = ServerSettings()
    dbs = {tmp_path / f"{n}.db": settings.replica_for(n) for n in ("one", "two")}
    for i, db in enumerate(dbs):
        _table(db, 5 + i)
    config = tmp_path / "conf" / "litestream.yml"
    with ConfigReplicator(dbs, config):
        text = config.read_text()
        assert stat.S_IMODE(config.stat().st_mode) == 0o600
        assert "testing" not in text and "force-path-style: true" in text and s3.endpoint in text
        for db in dbs:
            _table(db, 20)
    for i, (db, url) in enumerate(dbs.items()):
        with sqlite3.connect(restore(url, tmp_path / f"back-{db.name}")) as conn:
            assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 25 + i


def test_replica_urls_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp_servers.core._litestream import child_env, replica_config

    assert replica_config("s3://b/p/q/grader?endpoint=http://h:9000&region=eu-west-1&forcePathStyle=true") == {
        "type": "s3", "bucket": "b", "path": "p/q/grader", "endpoint": "http://h:9000", "region": "eu-west-1",
        "force-path-style": True}
    assert replica_config("file:///srv/r/grader") == {"type": "file", "path": "/srv/r/grader"}
    with pytest.raises(LitestreamError, match="unsupported"):
        replica_config("gs://b/p")
    monkeypatch.setenv("AWS_CA_BUNDLE", "/etc/ca.pem")
    # litestream 0.5.17 cannot combine a custom endpoint with a CA bundle; plain http needs no bundle anyway.
    assert "AWS_CA_BUNDLE" not in child_env("s3://b/p?endpoint=http://127.0.0.1:9000")
    assert child_env("s3://b/p?endpoint=https://minio.lan:9000")["AWS_CA_BUNDLE"] == "/etc/ca.pem"
