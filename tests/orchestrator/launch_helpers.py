"""Helpers for tests that run `orchestrator launch` as the operator would: a subprocess, its DB, its processes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from orchestrator._services import SERVERS
from tests.mcp_servers.server_helpers import REPO, free_port
from trainer import paths


def base_port() -> int:
    """A first port with the next four free too (the five servers)."""
    while True:
        port = free_port()
        if port + len(SERVERS) < 65000 and all(_free(port + i) for i in range(len(SERVERS))):
            return port


def _free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), W2S_LITESTREAM="false", OMP_NUM_THREADS="1", **extra)
    env.pop("ANTHROPIC_API_KEY", None) if "ANTHROPIC_API_KEY" not in extra else None
    return env


def cli(*args: str, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orchestrator.cli", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def count(db: str, sql: str, *args: object) -> int:
    path = paths().state_dir / db
    if not path.is_file():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute(sql, args).fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def wait_for(what: str, check: Callable[[], bool], timeout: float, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for: {what}"
        time.sleep(interval)


def processes_with_env(key: str, value: str) -> list[int]:
    """Pids whose environment holds KEY=value (the servers and the supervisor inherit the test's W2S_HOME)."""
    found = []
    needle = f"{key}={value}".encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if needle in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found
