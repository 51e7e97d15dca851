"""The five MCP servers as child processes on loopback ports, and the record that lets `status`/`stop` find them."""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from mcp_servers.core import Replicator, ServerSettings
from trainer import paths

SERVERS: tuple[str, ...] = ("grader", "findings", "snapshot", "train", "predict")
"""In start order; each is `python -m mcp_servers.<name>`, at base_port + its index."""


@dataclass
class Service:
    name: str
    port: int
    pid: int | None = None
    restarts: int = 0

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


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it when its parent (serve/launch) dies, even by kill -9."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def spawn(service: Service, host: str, log_dir: Path) -> subprocess.Popen[bytes]:
    """Start one server process (it dies with this process); `service.pid` is updated."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / f"{service.name}.log").open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", f"mcp_servers.{service.name}", "--transport", "http", "--host", host,
             "--port", str(service.port)], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None)  # noqa: PLW1509 - no locks taken
    service.pid = proc.pid
    return proc


def start_services(services: list[Service], host: str, log_dir: Path,
                   timeout: float = 120.0) -> dict[str, subprocess.Popen[bytes]]:
    """Start every server and wait until each answers /health; stop them all if one fails."""
    procs: dict[str, subprocess.Popen[bytes]] = {}
    for service in services:
        if service.healthy(timeout=0.3):
            stop_services([s for s in services if s.name in procs])
            raise RuntimeError(f"port {service.port} already serves something; pick another --base-port")
        procs[service.name] = spawn(service, host, log_dir)
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
    return procs


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


def save_record(services: list[Service], agents: dict[str, Path], launch_id: str | None = None) -> Path:
    path = record_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"pid": os.getpid(), "launch": launch_id, "services": [asdict(s) for s in services],
            "agents": {name: str(workspace) for name, workspace in agents.items()}}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)
    return path


def load_record() -> dict | None:
    path = record_path()
    return json.loads(path.read_text()) if path.is_file() else None


def running_serve() -> list[Service] | None:
    """The servers of a live `orchestrator serve` (every one healthy), to join instead of starting our own."""
    record = load_record()
    if record is None or record.get("launch") or not pid_is(record.get("pid"), "orchestrator", "serve"):
        return None
    services = [Service(**s) for s in record["services"]]
    return services if services and all(s.healthy() for s in services) else None


def pid_is(pid: object, *words: str) -> bool:
    """Whether `pid` is alive and still the process we recorded (its command line holds every word): a pid
    reused by an unrelated process after ours exited must never be signalled."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    joined = b" ".join(argv)
    return all(word.encode() in joined for word in words)


class ServerSupervisor:
    """Keeps the servers this process started alive: a server that exits is reaped, logged, and started again
    after a backoff (1, 2, 4 ... 30 s); `Service.restarts` counts it and `on_restart` lets the caller rewrite the
    record that `orchestrator status` reads."""

    def __init__(self, services: list[Service], procs: dict[str, subprocess.Popen[bytes]], host: str,
                 log_dir: Path, note: Callable[[str], None], on_restart: Callable[[], None] | None = None) -> None:
        self.services, self.procs, self.host, self.log_dir = services, procs, host, log_dir
        self.note, self.on_restart = note, on_restart
        self._due: dict[str, float] = {}

    def check(self, now: float, stopping: bool = False) -> None:
        for service in self.services:
            proc = self.procs.get(service.name)
            if proc is None:
                continue
            if proc.poll() is not None and service.name not in self._due:  # poll() reaps it
                delay = min(30.0, 2.0 ** min(service.restarts, 5))
                self._due[service.name] = now + delay
                self.note(f"server {service.name} exited ({proc.returncode}); restart in {delay:.0f}s")
            due = self._due.get(service.name)
            if due is not None and now >= due and not stopping:
                del self._due[service.name]
                service.restarts += 1
                self.procs[service.name] = spawn(service, self.host, self.log_dir)
                if self.on_restart is not None:
                    self.on_restart()
                self.note(f"server {service.name} restarted (pid {service.pid}, restart {service.restarts})")


def start_tokens_replica(note: Callable[[str], None]) -> Replicator | None:
    """Replicate the shared tokens db while the servers run (it belongs to no single server); None when litestream
    is off or cannot start (the servers still run, and `note` says so)."""
    settings = ServerSettings()
    if not settings.litestream:
        return None
    try:
        return Replicator(settings.tokens_db, settings.replica_for("tokens")).start()
    except Exception as exc:  # noqa: BLE001 - a safety net: serving goes on without it, and says so
        note(f"litestream not running for tokens.db: {exc}")
        return None


def compute_env(target: str) -> dict[str, str]:
    """The compute servers' environment for `--compute`: `local` (jobs on this host), `ray` (a one-node Ray
    cluster started here), `ray:HOST:PORT` (a Ray cluster's head, the tested kind) or `ray://HOST:PORT` (Ray
    Client). See docs/scale-out.md; the agents' sandboxes are unchanged either way."""
    if target == "local":
        return {"W2S_COMPUTE_BACKEND": "local"}
    if target == "ray":
        return {"W2S_COMPUTE_BACKEND": "ray"}
    address = target if target.startswith("ray://") else target.removeprefix("ray:") if target.startswith("ray:") \
        else ""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536 or any(c.isspace() for c in address):
        raise ValueError(f"--compute {target!r}: give local, ray, ray:HOST:PORT (a Ray head) or ray://HOST:PORT "
                         "(Ray Client)")
    return {"W2S_COMPUTE_BACKEND": "ray", "W2S_RAY_ADDRESS": address}
