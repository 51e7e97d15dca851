"""`orchestrator serve` end to end: five servers up, an agent's .mcp.json works over HTTP, `stop` brings all down
and revokes the serve's tokens: a token of a previous serve does not work after a restart."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport

from mcp_servers.grader.datasets._build import build_testbed
from orchestrator._services import SERVERS, Service, load_record
from tests.mcp_servers.server_helpers import REPO
from tests.orchestrator.launch_helpers import base_port, cli, cli_env
from trainer import paths


def _serve(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "orchestrator.cli", "serve", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


async def _tools(config: dict) -> dict[str, list[str]]:
    found = {}
    for name, server in config["mcpServers"].items():
        async with Client(StreamableHttpTransport(server["url"], headers=server["headers"])) as client:
            found[name] = sorted(t.name for t in await client.list_tools())
            if name == "grader":
                datasets = (await client.call_tool("list_datasets", {})).structured_content
                found["datasets"] = sorted(d["name"] for d in datasets["result"])
    return found


async def _list_datasets(url: str, headers: dict[str, str]) -> list[str]:
    async with Client(StreamableHttpTransport(url, headers=headers)) as client:
        answer = (await client.call_tool("list_datasets", {})).structured_content
        return [d["name"] for d in answer["result"]]


def _initialize(url: str, headers: dict[str, str]) -> int:
    """HTTP status of an MCP `initialize` with these headers (401: the bearer token is not accepted)."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "0"}}}
    return httpx.post(url, json=body, timeout=30, headers={
        **headers, "accept": "application/json, text/event-stream"}).status_code


def _wait_up(serve: subprocess.Popen[bytes], started_after: float) -> dict:
    deadline = time.monotonic() + 180
    config = paths().workspaces_dir / "bob" / ".mcp.json"
    while True:
        record = load_record()
        if record is not None and config.is_file() and config.stat().st_mtime >= started_after \
                and all(Service(**s).healthy() for s in record["services"]):
            return record
        assert serve.poll() is None, serve.stdout.read().decode()[-3000:]  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "serve did not come up"
        time.sleep(0.2)


def _stop(serve: subprocess.Popen[bytes], env: dict[str, str]) -> None:
    stop = cli("stop", env=env, timeout=60)
    assert stop.returncode == 0, stop.stdout
    serve.wait(timeout=60)
    out = serve.stdout.read().decode()  # type: ignore[union-attr]
    assert "revoked 2 token(s)" in out, out[-2000:]


@pytest.mark.slow
def test_serve_status_stop_and_tokens_die_with_the_serve(w2s_home: Path) -> None:
    build_testbed("sentiment", "tiny", seed=0)
    port = base_port()
    env = cli_env()
    serve = _serve("--agents", "alice,bob", "--base-port", str(port), env=env)
    try:
        record = _wait_up(serve, 0)
        assert [s["name"] for s in record["services"]] == list(SERVERS)
        status = cli("status", env=env, timeout=60)
        assert status.returncode == 0 and "grader" in status.stdout, status.stdout
        config_path = paths().workspaces_dir / "alice" / ".mcp.json"
        assert stat.S_IMODE(config_path.stat().st_mode) == 0o600
        config = json.loads(config_path.read_text())
        tools = asyncio.run(_tools(config))
        assert "submit_predictions" in tools["grader"] and "post_finding" in tools["findings"]
        assert "upload_snapshot" in tools["snapshot"] and "start_training" in tools["train"]
        assert "predict" in tools["predict"] and tools["datasets"] == ["sentiment"]
        bob = json.loads((paths().workspaces_dir / "bob" / ".mcp.json").read_text())
        assert bob["mcpServers"]["grader"]["headers"] != config["mcpServers"]["grader"]["headers"]
        # kill -9 of a server under `serve`: reaped, restarted with backoff, counted in the record `status` reads.
        findings = next(s for s in record["services"] if s["name"] == "findings")
        os.kill(findings["pid"], signal.SIGKILL)
        deadline = time.monotonic() + 120
        while True:
            now = {s["name"]: s for s in (load_record() or record)["services"]}["findings"]
            if now["restarts"] == 1 and Service(**now).healthy():
                break
            assert time.monotonic() < deadline, "findings was not restarted"
            time.sleep(0.5)
        assert now["pid"] != findings["pid"]
        status = cli("status", env=env, timeout=60)
        assert status.returncode == 0 and "findings" in status.stdout, status.stdout
        _stop(serve, env)
        assert not any(Service(**s).healthy(timeout=0.3) for s in record["services"])

        restarted_at = time.time()
        serve = _serve("--agents", "alice,bob", "--base-port", str(port), env=env)
        _wait_up(serve, restarted_at)
        grader = config["mcpServers"]["grader"]
        assert _initialize(grader["url"], grader["headers"]) == 401
        fresh = json.loads(config_path.read_text())["mcpServers"]["grader"]
        assert fresh["headers"] != grader["headers"]
        assert _initialize(fresh["url"], fresh["headers"]) == 200
        assert asyncio.run(_list_datasets(fresh["url"], fresh["headers"])) == ["sentiment"]
        _stop(serve, env)
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
