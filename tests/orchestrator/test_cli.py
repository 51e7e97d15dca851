"""`orchestrator serve` end to end: five servers up, an agent's .mcp.json works over HTTP, `stop` brings all down."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport

from mcp_servers.grader.datasets._build import build_testbed
from orchestrator._services import SERVERS, Service, load_record
from tests.mcp_servers.server_helpers import REPO, free_port
from trainer import paths


def _orchestrator(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "orchestrator.cli", *args], cwd=REPO, env=env,
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


def test_serve_status_and_stop(w2s_home: Path) -> None:
    build_testbed("sentiment", "tiny", seed=0)
    base = free_port()
    while any(p in range(base, base + len(SERVERS)) for p in (free_port(),)):
        base = free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO), W2S_LITESTREAM="false")
    serve = _orchestrator("serve", "--agents", "alice,bob", "--base-port", str(base), env=env)
    try:
        deadline = time.monotonic() + 120
        while (record := load_record()) is None or not (paths().workspaces_dir / "bob" / ".mcp.json").is_file():
            assert serve.poll() is None, serve.stdout.read().decode()[-3000:]  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "serve did not come up"
            time.sleep(0.2)
        assert [s["name"] for s in record["services"]] == list(SERVERS)
        assert all(Service(**s).healthy() for s in record["services"])
        status = subprocess.run([sys.executable, "-m", "orchestrator.cli", "status"], cwd=REPO, env=env,
                                capture_output=True, text=True, timeout=60)
        assert status.returncode == 0, status.stdout
        config_path = paths().workspaces_dir / "alice" / ".mcp.json"
        assert stat.S_IMODE(config_path.stat().st_mode) == 0o600
        config = json.loads(config_path.read_text())
        tools = asyncio.run(_tools(config))
        assert "submit_predictions" in tools["grader"] and "post_finding" in tools["findings"]
        assert "upload_snapshot" in tools["snapshot"] and "start_training" in tools["train"]
        assert "predict" in tools["predict"] and tools["datasets"] == ["sentiment"]
        bob = json.loads((paths().workspaces_dir / "bob" / ".mcp.json").read_text())
        assert bob["mcpServers"]["grader"]["headers"] != config["mcpServers"]["grader"]["headers"]
        stop = subprocess.run([sys.executable, "-m", "orchestrator.cli", "stop"], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=60)
        assert stop.returncode == 0
        serve.wait(timeout=60)
        assert not any(Service(**s).healthy(timeout=0.3) for s in record["services"])
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
