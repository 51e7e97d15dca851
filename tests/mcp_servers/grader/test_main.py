"""The grader as served. Over streamable HTTP (real uvicorn on a loopback port): tokens decide who may call and who
you are, a revoked token is refused, an oversized body answers 413. `python -m mcp_servers.grader` as a real
process: concurrency, kill -9 (under load and between commit and answer), litestream restore, Inspector smoke."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport
from fastmcp.exceptions import ToolError

from mcp_servers.core import TokenStore, restore
from mcp_servers.grader import build_server

INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def _rows(db: Path) -> dict[int, tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        return {i: (a, n) for i, a, n in conn.execute("SELECT id, agent, note FROM grader_submission")}


def _client(url: str, token: str) -> Client:
    return Client(StreamableHttpTransport(f"{url}/mcp", headers={"Authorization": f"Bearer {token}"}))


async def _submit(client: Client, note: str, n: int = 120) -> int:
    result = await client.call_tool("submit_predictions", {"dataset": "pref", "predictions": [0.5] * n, "note": note})
    return int(result.structured_content["submission_id"])


async def test_tokens_over_http(env: Any, serve_app: Any) -> None:
    app = build_server()
    async with serve_app(app.http_app()) as url:
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{url}/health")).json()["status"] == "ok"
            for token in (None, "wrong", "w2s_wrong", env.tokens["carol"]):  # none, bad, unknown, other server
                headers = HEADERS | ({"Authorization": f"Bearer {token}"} if token else {})
                response = await http.post(f"{url}/mcp", json=INIT, headers=headers)
                assert response.status_code == (403 if token == env.tokens["carol"] else 401), token
            ok = await http.post(f"{url}/mcp", json=INIT, headers=HEADERS | {
                "Authorization": f"Bearer {env.tokens['alice']}"})
            assert ok.status_code == 200
        async with _client(url, env.tokens["alice"]) as alice:
            sub = (await alice.call_tool("submit_predictions", {
                "dataset": "toy", "predictions": [float(t) for t in env.truth["toy"]]})).structured_content
            assert sub["agent"] == "alice"
        async with _client(url, env.tokens["bob"]) as bob:  # another agent's token: another identity
            mine = (await bob.call_tool("submit_predictions", {"dataset": "toy", "predictions": [1.0] * 1000}))
            assert mine.structured_content["agent"] == "bob"
            with pytest.raises(ToolError, match="no submission"):
                await bob.call_tool("get_submission", {"submission_id": sub["submission_id"]})
        with pytest.raises(Exception):  # noqa: B017 - any connect failure: the server said 401
            async with _client(url, "w2s_not-a-token") as nobody:
                await nobody.list_tools()


async def test_revoked_token_is_refused_at_next_request(env: Any, serve_app: Any) -> None:
    app = build_server()
    async with serve_app(app.http_app()) as url:
        async with _client(url, env.tokens["alice"]) as alice:
            await alice.call_tool("list_datasets", {})
        app.tokens.revoke(agent="alice")
        async with httpx.AsyncClient() as http:
            response = await http.post(f"{url}/mcp", json=INIT, headers=HEADERS | {
                "Authorization": f"Bearer {env.tokens['alice']}"})
        assert response.status_code == 401


async def test_oversized_body_is_413(env: Any, serve_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("W2S_MAX_REQUEST_BYTES", "4096")
    app = build_server()
    body = {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": "submit_predictions", "arguments": {"dataset": "toy", "predictions": [0.5] * 5000}}}
    async with serve_app(app.http_app()) as url, httpx.AsyncClient() as http:
        response = await http.post(f"{url}/mcp", json=body, headers=HEADERS | {
            "Authorization": f"Bearer {env.tokens['alice']}"})
    assert response.status_code == 413 and "smaller payload" in response.text


async def test_nine_concurrent_clients_each_submission_stored_once(env: Any, server_process: Any) -> None:
    server_process.start()
    tokens = TokenStore(env.settings.tokens_db)
    agent_tokens = [tokens.mint(f"agent-{k}", ["grader"]) for k in range(9)]

    async def one(k: int) -> list[tuple[int, str]]:
        async with _client(server_process.url, agent_tokens[k]) as client:
            return [(await _submit(client, f"c{k}-{j}"), f"c{k}-{j}") for j in range(4)]

    acked = [pair for batch in await asyncio.gather(*(one(k) for k in range(9))) for pair in batch]
    stored = _rows(env.settings.db_path("grader"))
    assert len(acked) == 36 == len(stored) == len({i for i, _ in acked})
    for sub_id, note in acked:
        assert stored[sub_id] == (f"agent-{note[1]}", note)


@pytest.mark.timeout(90)
async def test_kill9_under_load_loses_no_acknowledged_submission(env: Any, server_process: Any) -> None:
    server_process.start()
    acked: list[tuple[int, str]] = []

    async def load(k: int) -> None:
        try:
            async with _client(server_process.url, env.tokens["alice"]) as client:
                for j in range(10_000):
                    note = f"k{k}-{j}"
                    acked.append((await _submit(client, note), note))
        except Exception:  # noqa: BLE001 - the server was killed under us
            return

    tasks = [asyncio.create_task(load(k)) for k in range(3)]
    while len(acked) < 30:
        await asyncio.sleep(0.05)
    server_process.kill9()
    await asyncio.wait_for(asyncio.gather(*tasks), 30)
    server_process.start()  # restart on the same database
    stored = _rows(env.settings.db_path("grader"))
    assert all(stored.get(i) == ("alice", note) for i, note in acked), "an acknowledged submission was lost"
    async with _client(server_process.url, env.tokens["alice"]) as client:
        assert await _submit(client, "after restart") > max(i for i, _ in acked)


@pytest.mark.timeout(90)
async def test_deleted_db_restored_from_litestream_replica(env: Any, make_server: Any) -> None:
    server = make_server(litestream=True).start()
    db = env.settings.db_path("grader")
    try:
        async with _client(server.url, env.tokens["alice"]) as client:
            ids = [await _submit(client, f"r{j}") for j in range(20)]
        replica = env.settings.replica_for("grader")
        probe = env.home / "probe.db"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # wait until the replica holds every acknowledged row
            probe.unlink(missing_ok=True)
            try:
                if set(_rows(restore(replica, probe))) >= set(ids):
                    break
            except Exception:  # noqa: BLE001, S110 - replica not written yet
                pass
            await asyncio.sleep(0.5)
    finally:
        server.stop()
    for path in db.parent.glob("grader.db*"):
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    shutil.rmtree(db.parent / ".grader.db-litestream", ignore_errors=True)
    restore(replica, db)
    assert {i: n for i, (_, n) in _rows(db).items()} == {i: f"r{j}" for j, i in enumerate(ids)}
    server = make_server().start()
    try:
        async with _client(server.url, env.tokens["alice"]) as client:
            got = await client.call_tool("get_submission", {"submission_id": ids[-1]})
        assert got.structured_content["note"] == "r19"
    finally:
        server.stop()


KILL_AFTER_COMMIT = """
import os, signal
from mcp_servers.grader import _service
_submit = _service.Grader.submit


def submit(self, *args, **kwargs):
    _submit(self, *args, **kwargs)  # committed: the row and its key are on disk
    os.kill(os.getpid(), signal.SIGKILL)  # the answer is never sent


_service.Grader.submit = submit
"""


@pytest.mark.timeout(120)
async def test_retry_after_kill9_between_commit_and_answer_is_stored_once(env: Any, make_server: Any,
                                                                           tmp_path: Path) -> None:
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(KILL_AFTER_COMMIT)  # loaded by the server process only, at its start
    doomed = make_server()
    doomed.env["PYTHONPATH"] = os.pathsep.join((str(hook), doomed.env["PYTHONPATH"]))
    doomed.start()
    call = {"dataset": "pref", "predictions": [1.0] * 120, "note": "once", "idempotency_key": "retry-me"}
    with pytest.raises(Exception):  # noqa: B017 - the connection closed without an answer
        async with _client(doomed.url, env.tokens["alice"]) as client:
            await asyncio.wait_for(client.call_tool("submit_predictions", call), 10)
    assert doomed.proc is not None and doomed.proc.wait(30) == -signal.SIGKILL
    db = env.settings.db_path("grader")
    assert list(_rows(db).values()) == [("alice", "once")]  # committed before the kill
    server = make_server().start()
    async with _client(server.url, env.tokens["alice"]) as client:
        retried = (await client.call_tool("submit_predictions", call)).structured_content
        fresh = (await client.call_tool("submit_predictions", call | {"idempotency_key": "new-one"}))
    stored = _rows(db)
    assert retried["replayed"] and stored[retried["submission_id"]] == ("alice", "once")
    assert len(stored) == 2 and fresh.structured_content["submission_id"] != retried["submission_id"]
    assert retried["submissions_used"] == 1 and fresh.structured_content["submissions_used"] == 2


INSPECTOR = "@modelcontextprotocol/inspector@2.12.0"


@pytest.mark.timeout(180)
def test_mcp_inspector_cli_smoke(env: Any, server_process: Any) -> None:
    npx = shutil.which("npx")
    if npx is None:
        pytest.skip("npx (Node.js) is not installed, so the MCP Inspector CLI cannot run")
    server_process.start()
    base = [npx, "-y", INSPECTOR, "--cli", f"{server_process.url}/mcp", "--transport", "http",
            "--method", "tools/call", "--tool-name", "submit_predictions", "--header",
            f"Authorization: Bearer {env.tokens['alice']}", "--tool-arg", "dataset=pref"]
    good = subprocess.run([*base, "--tool-arg", f"predictions={json.dumps([1] * 120)}"],
                          capture_output=True, text=True, timeout=150, check=False)
    assert good.returncode == 0, good.stderr[-2000:]
    assert '"submission_id"' in good.stdout and '"agent": "alice"' in good.stdout
    bad = subprocess.run([*base, "--tool-arg", "predictions=[1, 2]"], capture_output=True, text=True, timeout=150,
                         check=False)
    assert bad.returncode != 0 and "expected 120 predictions" in bad.stdout + bad.stderr
