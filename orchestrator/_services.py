"""The five MCP servers as child processes on loopback ports, and the record that lets `status`/`stop` find them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from trainer import paths

SERVERS: tuple[str, ...] = ("grader", "findings", "snapshot", "train", "predict")
"""In start order; each is `python -m mcp_servers.<name>`, at base_port + its index."""


@dataclass
class Service:
    name: str
    port: int
    pid: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def healthy(self, timeout: float = 1.0) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=timeout).status_code == 200
        except httpx.HTTPError:
            return False


def record_path() -> Path:
    return paths().state_dir / "orchestrator.json"


def plan(base_port: int) -> list[Service]:
    return [Service(name, base_port + index) for index, name in enumerate(SERVERS)]


def start_services(services: list[Service], host: str, log_dir: Path, timeout: float = 120.0) -> None:
    """Start every server and wait until each answers /health; stop them all if one fails."""
    log_dir.mkdir(parents=True, exist_ok=True)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    for service in services:
        if service.healthy(timeout=0.3):
            raise RuntimeError(f"port {service.port} already serves something; pick another --base-port")
        with (log_dir / f"{service.name}.log").open("ab") as log:
            procs[service.name] = subprocess.Popen(
                [sys.executable, "-m", f"mcp_servers.{service.name}", "--transport", "http", "--host", host,
                 "--port", str(service.port)], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        service.pid = procs[service.name].pid
    deadline = time.monotonic() + timeout
    pending = list(services)
    while pending:
        for service in list(pending):
            if procs[service.name].poll() is not None:
                stop_services(services)
                raise RuntimeError(f"{service.name} exited at start; see {log_dir / (service.name + '.log')}")
            if service.healthy():
                pending.remove(service)
        if pending and time.monotonic() > deadline:
            stop_services(services)
            raise TimeoutError(f"not healthy after {timeout:.0f}s: {', '.join(s.name for s in pending)}")
        time.sleep(0.2)


def stop_services(services: list[Service], grace_s: float = 15.0) -> None:
    """SIGTERM every server (they flush their replicas), then SIGKILL what is still there after the grace period."""
    live = [s for s in services if s.pid and _alive(s.pid)]
    for service in live:
        os.kill(service.pid, signal.SIGTERM)  # type: ignore[arg-type]
    deadline = time.monotonic() + grace_s
    while any(_alive(s.pid) for s in live) and time.monotonic() < deadline:  # type: ignore[arg-type]
        time.sleep(0.1)
    for service in live:
        if _alive(service.pid):  # type: ignore[arg-type]
            os.kill(service.pid, signal.SIGKILL)  # type: ignore[arg-type]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        waited, _ = os.waitpid(pid, os.WNOHANG)  # reap our own exited children so they do not look alive
        return waited == 0
    except ChildProcessError:
        return True  # not our child: kill(0) said it exists
    except ProcessLookupError:
        return False


def save_record(services: list[Service], agents: dict[str, Path]) -> Path:
    path = record_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"pid": os.getpid(), "services": [asdict(s) for s in services],
            "agents": {name: str(workspace) for name, workspace in agents.items()}}
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def load_record() -> dict | None:
    path = record_path()
    return json.loads(path.read_text()) if path.is_file() else None
