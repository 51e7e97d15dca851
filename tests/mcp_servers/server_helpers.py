"""Helpers every server test uses: a free loopback port, an in-process uvicorn, a server as a child process."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def running(app: Any) -> AsyncIterator[str]:
    """Serve a Starlette app with uvicorn on a random loopback port; yields the base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="error"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        await task


def _die_with_parent() -> None:
    """SIGTERM to the child when the thread that started it dies (a killed run leaves no server behind)."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, 15)  # PR_SET_PDEATHSIG, SIGTERM


class ServerProcess:
    """`python -m <module> --transport http --port P` as a child process with its own W2S_* environment, restartable
    on the same port and home (tests, and the chaos benchmark, which SIGKILLs and restarts servers under load).

    `log`: append the server's output to this file (default: stderr kept for the error of a failed start).
    `die_with_parent`: the server gets SIGTERM when the starting thread dies (one prctl between fork and exec).
    """

    def __init__(self, module: str, home: Path, port: int, *, log: Path | None = None, die_with_parent: bool = False,
                 **env: str) -> None:
        self.module, self.port, self.url = module, port, f"http://127.0.0.1:{port}"
        self.log, self.die_with_parent = log, die_with_parent
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("W2S_")}
        self.env.update(W2S_HOME=str(home), PYTHONPATH=str(REPO), **env)
        self.proc: subprocess.Popen[bytes] | None = None
        self.healthy_at = 0.0
        """Monotonic time the last start answered /health."""

    def start(self, timeout: float = 60.0) -> ServerProcess:
        """Start and wait until /health answers."""
        output: Any = self.log.open("ab") if self.log is not None else subprocess.PIPE
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", self.module, "--transport", "http", "--port", str(self.port)],
                cwd=REPO, env=self.env, stdin=subprocess.DEVNULL,
                stdout=output if self.log is not None else subprocess.DEVNULL, stderr=output,
                preexec_fn=_die_with_parent if self.die_with_parent else None)  # noqa: PLW1509 - one prctl, no locks
        finally:
            if self.log is not None:
                output.close()  # the child holds its own descriptor
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                stderr = self.proc.stderr
                why = f"see {self.log}" if stderr is None else stderr.read().decode()[-2000:]
                raise RuntimeError(f"{self.module} exited with {self.proc.returncode}: {why}")
            try:
                if httpx.get(f"{self.url}/health", timeout=0.5).status_code == 200:
                    self.healthy_at = time.monotonic()
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"{self.module} did not become healthy in {timeout}s")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def integer_bounds(schema: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """(minimum, maximum) of every integer argument of a tool's input schema, list items included."""
    out = {}
    for name, prop in schema.get("properties", {}).items():
        for option in prop.get("anyOf", [prop]):
            option = option.get("items", option) if option.get("type") == "array" else option
            if option.get("type") == "integer":
                out[name] = (option.get("minimum"), option.get("maximum"))
    return out
