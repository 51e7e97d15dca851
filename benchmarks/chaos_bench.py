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
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks._chaos_load import TEST_ROWS, Ack, Log, agent
from tests.mcp_servers.server_helpers import ServerProcess, free_port

SERVERS = ("grader", "findings", "snapshot")
TABLES = {"grader": ("grader_submission", "note"), "findings": ("findings_finding", "title"),
          "snapshot": ("snapshot_snapshot", "message")}
"""Where each server stores a write and the column holding the bench's unique tag."""


def _server(name: str, home: Path) -> ServerProcess:
    """A server on its own loopback port with its litestream replica, no grader limits, dying with the bench."""
    return ServerProcess(f"mcp_servers.{name}", home, free_port(), log=home / "logs" / f"{name}.log",
                         die_with_parent=True, W2S_LITESTREAM="true", W2S_GRADER_MAX_SUBMISSIONS="0",
                         W2S_GRADER_RATE_LIMIT_PER_MINUTE="0", W2S_GRADER_RATE_LIMIT_PER_HOUR="0", HF_HUB_OFFLINE="1")


def _start(server: ServerProcess) -> float:
    """Start and wait until /health answers; returns the monotonic time it did."""
    return server.start(timeout=90.0).healthy_at


def _agents(phase: str, servers: dict[str, ServerProcess], tokens: list[str], until: float,
            log: Log) -> list[asyncio.Task[None]]:
    urls = {name: server.url for name, server in servers.items()}
    return [asyncio.create_task(agent(k, phase, urls, t, until, log)) for k, t in enumerate(tokens)]


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


async def _kill_phase(servers: dict[str, ServerProcess], tokens: list[str], seconds: float, kills: int,
                      log: Log) -> list[tuple[str, float, float, float]]:
    """Load for `seconds` with `kills` SIGKILL+restart events; returns (server, killed, reaped, healthy) times."""
    start = time.monotonic()
    until = start + seconds
    agents = _agents("kill", servers, tokens, until, log)
    events = []
    for n in range(kills):
        await asyncio.sleep(max(0.0, start + seconds * (n + 1) / (kills + 1) - time.monotonic()))
        name = SERVERS[n % len(SERVERS)]
        server = servers[name]
        killed = time.monotonic()
        await asyncio.to_thread(server.kill9)
        reaped = time.monotonic()  # an answer after this comes from the restarted process
        events.append((name, killed, reaped, await asyncio.to_thread(_start, server)))
    await asyncio.gather(*agents)
    return events


async def _restore_phase(home: Path, servers: dict[str, ServerProcess], tokens: list[str], seconds: float,
                         log: Log) -> dict[str, Any]:
    until = time.monotonic() + seconds
    agents = _agents("restore", servers, tokens, until, log)
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
    healthy = await asyncio.to_thread(_start, grader)
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
    servers = {name: _server(name, home) for name in SERVERS}
    log = Log()
    try:
        for server in servers.values():
            await asyncio.to_thread(_start, server)
        calm = Log()
        if calm_seconds:  # same-run baseline: the same load, nothing killed
            until = time.monotonic() + calm_seconds
            await asyncio.gather(*_agents("calm", servers, tokens, until, calm))
        log.acks += calm.acks
        events = await _kill_phase(servers, tokens, seconds, kills, log)
        restore = await _restore_phase(home, servers, tokens, restore_seconds, log) if restore_seconds else None
    finally:
        for server in servers.values():
            server.stop(timeout=30.0)
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
