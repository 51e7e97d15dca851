"""Chaos benchmark: agents write as fast as they can while every server is SIGKILLed and restarted.

    python benchmarks/chaos_bench.py [--agents 9] [--calm-seconds 15] [--seconds 90] [--kills 9]
                                     [--restore-seconds 20] [--json] [--keep]

Real server processes (grader, findings, snapshot) on loopback ports, each with its litestream replica, in a
temporary W2S_HOME. `--agents` simulated agents speak MCP over streamable HTTP (a minimal client: initialize,
tools/call, re-initialize after a restart) and write to every server at once (grader submissions, findings,
inline snapshots), one call at a time per server, each with a fresh idempotency key and a unique tag; a call that fails (connection closed, server
starting, timeout) is retried with the same key until it is acknowledged. The bench itself is the supervisor:
`--kills` times, spread over `--seconds`, it SIGKILLs the next server (round robin) and restarts it at once on
the same port and database (the orchestrator's supervisor adds a backoff; this measures the floor).

Calm phase first (`--calm-seconds`, the same-run baseline): the same load, nothing killed, for the throughput
ratio. Kill phase, at the end: acknowledged writes lost (acked id missing or naming another row; goal 0), duplicates
(a tag stored twice, i.e. a retry stored again; goal 0), seconds from each kill to the killed server's next
acknowledged write (median, max), refusals (tool errors; goal 0).

Restore phase (`--restore-seconds`, 0 = skip): the same load; halfway the grader is SIGKILLed, its disk "lost"
(database, WAL and litestream's local state deleted), `w2s-admin replica restore grader` rebuilds it from the
replica and the grader restarts. Litestream is asynchronous, so acknowledged submissions of the last moments may
be missing: reported as the lost window (rows and seconds before the kill). Ids are never reused: every id
acknowledged before the kill either names the same row after the restore or no row at all, and new ids start
past the gap the restore leaves (`ID_GAP_AFTER_RESTORE`).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import random
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SERVERS = ("grader", "findings", "snapshot")
TABLES = {"grader": ("grader_submission", "note"), "findings": ("findings_finding", "title"),
          "snapshot": ("snapshot_snapshot", "message")}
"""Where each server stores a write and the column holding the bench's unique tag."""
ID_FIELD = {"grader": "submission_id", "findings": "finding_id", "snapshot": "snapshot_id"}
TEST_ROWS = 120
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_bench() -> None:
    """A server outlives nothing: SIGTERM when the thread that started it (or the bench) dies."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, 15)  # PR_SET_PDEATHSIG, SIGTERM


class Server:
    """`python -m mcp_servers.<name> --transport http` on a fixed loopback port, restartable on the same home."""

    def __init__(self, name: str, home: Path) -> None:
        self.name, self.home, self.port = name, home, _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("W2S_")}
        self.env.update(W2S_HOME=str(home), PYTHONPATH=str(REPO), W2S_LITESTREAM="true",
                        W2S_GRADER_MAX_SUBMISSIONS="0", W2S_GRADER_RATE_LIMIT_PER_MINUTE="0",
                        W2S_GRADER_RATE_LIMIT_PER_HOUR="0", HF_HUB_OFFLINE="1")
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout: float = 90.0) -> float:
        """Start and wait until /health answers; returns the monotonic time it did."""
        log = (self.home / "logs" / f"{self.name}.log").open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", f"mcp_servers.{self.name}", "--transport", "http",
                                      "--port", str(self.port)], cwd=REPO, env=self.env, stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL,
                                     preexec_fn=_die_with_bench)  # noqa: PLW1509 - one prctl, no locks
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {log.name}")
            try:
                if httpx.get(f"{self.url}/health", timeout=0.5).status_code == 200:
                    return time.monotonic()
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"{self.name} did not become healthy in {timeout}s")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Retry(Exception):
    """The call did not get an answer (connection refused or closed, unknown session, timeout): send it again."""


class Refused(Exception):
    """The server answered with a tool error."""


class Mcp:
    """A minimal MCP streamable-HTTP client that survives server restarts (a new session after each)."""

    def __init__(self, http: httpx.AsyncClient, url: str, token: str) -> None:
        self.http, self.url, self.session = http, f"{url}/mcp", None
        self.headers = HEADERS | {"Authorization": f"Bearer {token}"}
        self._id = 0

    async def _post(self, body: dict[str, Any]) -> httpx.Response:
        headers = self.headers | ({"mcp-session-id": self.session} if self.session else {})
        try:
            response = await self.http.post(self.url, json=body, headers=headers)
        except (httpx.TransportError, httpx.TimeoutException) as exc:
            self.session = None
            raise Retry(type(exc).__name__) from None
        if response.status_code in (404, 502, 503):  # session lost with a restart, or still starting
            self.session = None
            raise Retry(str(response.status_code))
        response.raise_for_status()
        return response

    async def _connect(self) -> None:
        self._id += 1
        response = await self._post({"jsonrpc": "2.0", "id": self._id, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "chaos", "version": "0"}}})
        self.session = response.headers.get("mcp-session-id")
        await self._post({"jsonrpc": "2.0", "method": "notifications/initialized"})

    async def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        if self.session is None:
            await self._connect()
        self._id += 1
        response = await self._post({"jsonrpc": "2.0", "id": self._id, "method": "tools/call",
                                     "params": {"name": tool, "arguments": arguments}})
        message = _message(response)
        if message is None:
            self.session = None
            raise Retry("no answer in the stream")
        if "error" in message:
            raise Refused(str(message["error"].get("message")))
        result = message["result"]
        if result.get("isError"):
            raise Refused(" ".join(c.get("text", "") for c in result.get("content", [])))
        return dict(result["structuredContent"])


def _message(response: httpx.Response) -> dict[str, Any] | None:
    if response.headers.get("content-type", "").startswith("application/json"):
        return dict(response.json())
    data = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]
    return json.loads(data[-1]) if data else None


def _archive(tag: str) -> str:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        raw = f"# {tag}\nprint('chaos')\n".encode()
        info = tarfile.TarInfo("train.py")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
    return base64.b64encode(buffer.getvalue()).decode()


def _request(server: str, tag: str, rng: random.Random) -> tuple[str, dict[str, Any]]:
    if server == "grader":
        return "submit_predictions", {"dataset": "chaos", "note": tag, "idea": "chaos", "idempotency_key": tag,
                                      "predictions": [float(rng.random() < 0.5) for _ in range(TEST_ROWS)]}
    if server == "findings":
        return "post_finding", {"title": tag, "summary": "a chaos write", "body": "retried until acknowledged",
                                "finding_type": "hypothesis", "idea": "chaos", "method_family": "other",
                                "idempotency_key": tag}
    return "upload_snapshot", {"message": tag, "idea": "chaos", "archive_b64": _archive(tag), "idempotency_key": tag}


@dataclass
class Ack:
    server: str
    tag: str
    id: int
    at: float
    replayed: bool


@dataclass
class Log:
    acks: list[Ack] = field(default_factory=list)
    retries: int = 0
    timeouts: int = 0
    refused: list[str] = field(default_factory=list)
    unacknowledged: int = 0


async def _writer(k: int, phase: str, name: str, client: Mcp, until: float, log: Log) -> None:
    """One agent's writes to one server, one at a time, each retried with its key until acknowledged."""
    rng = random.Random(f"{k}-{name}")
    i = 0
    while time.monotonic() < until:
        tag = f"{phase}-a{k}-{name[0]}{i}"
        tool, arguments = _request(name, tag, rng)
        i += 1
        give_up = until + 60  # a write started before the end is retried until acknowledged
        while True:
            try:
                answer = await client.call(tool, arguments)
            except Retry as exc:
                log.retries += 1
                log.timeouts += "Timeout" in str(exc)
                if time.monotonic() > give_up:
                    log.unacknowledged += 1
                    break
                await asyncio.sleep(0.1)
                continue
            except Refused as exc:
                log.refused.append(f"{name}: {str(exc)[:200]}")
                break
            log.acks.append(Ack(name, tag, int(answer[ID_FIELD[name]]), time.monotonic(),
                                bool(answer.get("replayed"))))
            break


async def _agent(k: int, phase: str, servers: dict[str, Server], token: str, until: float, log: Log) -> None:
    """An agent writing to every server at once (a stalled server does not hold up its other writes)."""
    # a long read timeout, as an agent's client has: a short one turns a slow restart into a retry storm
    async with httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=2.0)) as http:
        await asyncio.gather(*(_writer(k, phase, name, Mcp(http, server.url, token), until, log)
                               for name, server in servers.items()))


def _stored(home: Path, server: str) -> dict[int, str]:
    table, column = TABLES[server]
    db = home / "private" / "state" / f"{server}.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return {int(i): str(t) for i, t in conn.execute(f"SELECT id, {column} FROM {table}")}


def _lost_and_duplicates(home: Path, acks: list[Ack]) -> tuple[list[Ack], int]:
    lost, duplicates = [], 0
    for server in SERVERS:
        rows = _stored(home, server)
        lost += [a for a in acks if a.server == server and rows.get(a.id) != a.tag]
        tags = [t for t in rows.values() if t.startswith(("calm-", "kill-", "restore-"))]
        duplicates += len(tags) - len(set(tags))
    return lost, duplicates


def _setup(home: Path, agents: int) -> list[str]:
    """A tiny preference dataset in the label store and one token per agent (all three scopes)."""
    os.environ["W2S_HOME"] = str(home)
    from mcp_servers.core import ServerSettings, TokenStore
    from mcp_servers.grader.datasets import LabelStore, prepare_dataset
    from trainer import paths

    src = home / "src" / "chaos"
    src.mkdir(parents=True)
    rng = random.Random(0)
    for split, n in (("train_label", 20), ("train_unlabel", 20), ("test", TEST_ROWS)):
        rows = [{"prompt": f"{split} p{i}", "first": "a", "second": "b", "label": rng.choice("AB")} for i in range(n)]
        (src / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    prepare_dataset(src, paths().data_dir, LabelStore(paths().label_store_dir))
    (home / "logs").mkdir(exist_ok=True)
    tokens = TokenStore(ServerSettings().tokens_db)
    return [tokens.mint(f"agent-{k}", list(SERVERS)) for k in range(agents)]


async def _kill_phase(servers: dict[str, Server], tokens: list[str], seconds: float, kills: int,
                      log: Log) -> list[tuple[str, float, float, float]]:
    """Load for `seconds` with `kills` SIGKILL+restart events; returns (server, killed, reaped, healthy) times."""
    start = time.monotonic()
    until = start + seconds
    agents = [asyncio.create_task(_agent(k, "kill", servers, t, until, log)) for k, t in enumerate(tokens)]
    events = []
    for n in range(kills):
        await asyncio.sleep(max(0.0, start + seconds * (n + 1) / (kills + 1) - time.monotonic()))
        server = servers[SERVERS[n % len(SERVERS)]]
        killed = time.monotonic()
        await asyncio.to_thread(server.kill9)
        reaped = time.monotonic()  # an answer after this comes from the restarted process
        events.append((server.name, killed, reaped, await asyncio.to_thread(server.start)))
    await asyncio.gather(*agents)
    return events


async def _restore_phase(home: Path, servers: dict[str, Server], tokens: list[str], seconds: float,
                         log: Log) -> dict[str, Any]:
    until = time.monotonic() + seconds
    agents = [asyncio.create_task(_agent(k, "restore", servers, t, until, log)) for k, t in enumerate(tokens)]
    await asyncio.sleep(seconds / 2)
    grader = servers["grader"]
    killed = time.monotonic()
    await asyncio.to_thread(grader.kill9)
    reaped = time.monotonic()
    state = home / "private" / "state"
    for path in state.glob("grader.db*"):  # the disk is lost: only the replica remains
        path.unlink()
    shutil.rmtree(state / ".grader.db-litestream", ignore_errors=True)
    restored = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", "from mcp_servers.admin import app; app()", "replica", "restore",
                         "grader"], cwd=REPO, env=grader.env, capture_output=True, text=True, timeout=120)
    if restored.returncode != 0:
        raise RuntimeError(f"restore failed: {restored.stdout[-2000:]} {restored.stderr[-2000:]}")
    healthy = await asyncio.to_thread(grader.start)
    await asyncio.gather(*agents)
    return {"killed": killed, "reaped": reaped, "healthy": healthy}


def _summary(home: Path, log: Log, events: list[tuple[str, float, float, float]], restore: dict[str, Any] | None,
             seconds: float) -> dict[str, Any]:
    kill_acks = [a for a in log.acks if a.tag.startswith("kill-")]
    recovery, restart, per_kill = [], [], []
    for name, killed, reaped, healthy in events:
        after = [a.at for a in log.acks if a.server == name and a.at > reaped]
        restart.append(healthy - killed)
        if after:
            recovery.append(min(after) - killed)
        per_kill.append([name, _r(healthy - killed), _r(min(after) - killed) if after else None])
    lost, duplicates = _lost_and_duplicates(home, log.acks)
    out: dict[str, Any] = {
        "agents": None, "seconds": seconds, "kills": len(events),
        "acknowledged": len(kill_acks), "writes_per_s": round(len(kill_acks) / seconds, 1),
        "by_server": {s: sum(a.server == s for a in kill_acks) for s in SERVERS},
        "lost": sum(a.tag.startswith("kill-") for a in lost), "duplicates": duplicates,
        "retries": log.retries, "timeouts": log.timeouts, "replayed": sum(a.replayed for a in log.acks), "refused": len(log.refused),
        "refusals": sorted(set(log.refused))[:5], "unacknowledged": log.unacknowledged,
        "restart_s": {"median": _r(statistics.median(restart)) if restart else None,
                      "max": _r(max(restart)) if restart else None},
        "kill_to_next_ack_s": {"median": _r(statistics.median(recovery)) if recovery else None,
                               "max": _r(max(recovery)) if recovery else None, "measured": len(recovery)},
        "per_kill": per_kill,
    }
    if restore is not None:
        killed = restore["killed"]
        before = [a for a in log.acks if a.server == "grader" and a.at <= restore["reaped"]]
        # a replayed answer names a row committed before the kill whose first answer was lost: not a new id
        after = [a for a in log.acks if a.server == "grader" and a.at > restore["reaped"] and not a.replayed]
        gone = [a for a in lost if a.server == "grader"]
        rows = _stored(home, "grader")
        reused = sum(1 for a in before if a.id in rows and rows[a.id] != a.tag)
        reused += len({a.id for a in after} & {a.id for a in before})
        out["restore"] = {
            "acknowledged_before_kill": len(before), "lost": len(gone),
            "lost_window_s": _r(restore["reaped"] - min(a.at for a in gone)) if gone else 0.0,
            "ids_reused": reused, "first_new_id": min((a.id for a in after), default=None),
            "max_id_before_kill": max((a.id for a in before), default=None),
            "kill_to_next_ack_s": _r(min(a.at for a in after) - killed) if after else None,
            "restart_s": _r(restore["healthy"] - killed),
            "other_lost": sum(1 for a in lost if a.server != "grader" and a.tag.startswith("restore-")),
            "replayed_after_restart": sum(1 for a in log.acks if a.server == "grader" and a.replayed
                                          and a.at > restore["reaped"]),
        }
    return out


def _r(value: float) -> float:
    return round(value, 2)


async def run(agents: int, seconds: float, kills: int, restore_seconds: float, home: Path,
              calm_seconds: float = 0.0) -> dict[str, Any]:
    tokens = _setup(home, agents)
    servers = {name: Server(name, home) for name in SERVERS}
    log = Log()
    try:
        for server in servers.values():
            await asyncio.to_thread(server.start)
        calm = Log()
        if calm_seconds:  # same-run baseline: the same load, nothing killed
            until = time.monotonic() + calm_seconds
            await asyncio.gather(*(_agent(k, "calm", servers, t, until, calm) for k, t in enumerate(tokens)))
        log.acks += calm.acks
        events = await _kill_phase(servers, tokens, seconds, kills, log)
        restore = await _restore_phase(home, servers, tokens, restore_seconds, log) if restore_seconds else None
    finally:
        for server in servers.values():
            server.stop()
    summary = _summary(home, log, events, restore, seconds)
    summary["agents"] = agents
    if calm_seconds:
        summary["calm_writes_per_s"] = round(len(calm.acks) / calm_seconds, 1)
        summary["kill_vs_calm_throughput"] = round(summary["writes_per_s"] / max(summary["calm_writes_per_s"], 0.1), 2)
        summary["calm_lost"] = sum(1 for a in _lost_and_duplicates(home, calm.acks)[0])
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=9)
    parser.add_argument("--seconds", type=float, default=90.0, help="length of the kill phase")
    parser.add_argument("--kills", type=int, default=9, help="SIGKILLs in the kill phase (round robin over servers)")
    parser.add_argument("--restore-seconds", type=float, default=20.0, help="length of the restore phase (0: skip)")
    parser.add_argument("--calm-seconds", type=float, default=15.0,
                        help="same-run baseline first: the same load with no kill (0: skip)")
    parser.add_argument("--json", action="store_true", help="print only the summary as one JSON line")
    parser.add_argument("--keep", action="store_true", help="keep the temporary W2S_HOME (logs, databases)")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="w2s-chaos-bench-"))
    try:
        summary = asyncio.run(run(args.agents, args.seconds, args.kills, args.restore_seconds, home,
                                  args.calm_seconds))
    finally:
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)
    if args.json:
        print(json.dumps(summary))
        return
    print(json.dumps(summary, indent=2))
    if args.keep:
        print(f"home kept: {home}")


if __name__ == "__main__":
    main()
