"""The snapshot server over streamable HTTP (real uvicorn on 127.0.0.1) with bearer auth, and over stdio."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastmcp import Client
from fastmcp.client.transports import StdioTransport, StreamableHttpTransport

from mcp_servers.snapshot import build_server
from tests.mcp_servers.snapshot.snapshot_helpers import SEnv, member, running, tar_b64

INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}
REPO = Path(__file__).resolve().parents[3]
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


async def test_http_with_bearer_tokens(senv: SEnv) -> None:
    (senv.ws("alice") / "a.py").write_text("a\n")
    app = build_server()
    async with running(app.http_app()) as url:
        async with httpx.AsyncClient() as http:
            for token in (None, "w2s_unknown", senv.tokens["findings-only"]):
                headers = HEADERS | ({"Authorization": f"Bearer {token}"} if token else {})
                expected = 403 if token == senv.tokens["findings-only"] else 401  # 403: live token, no snapshot scope
                assert (await http.post(f"{url}/mcp", json=INIT, headers=headers)).status_code == expected
        transport = StreamableHttpTransport(f"{url}/mcp", headers={"Authorization": f"Bearer {senv.tokens['bob']}"})
        async with Client(transport) as bob:
            inline = (await bob.call_tool("upload_snapshot", {
                "message": "from a remote client", "archive_b64": tar_b64([(member("x.py"), b"x\n")])})).data
            assert inline.agent == "bob" and inline.files == 1
        transport = StreamableHttpTransport(f"{url}/mcp", headers={"Authorization": f"Bearer {senv.tokens['alice']}"})
        async with Client(transport) as alice:
            mine = (await alice.call_tool("upload_snapshot", {"message": "workspace"})).structured_content
            assert mine["agent"] == "alice" and mine["source"] == "workspace" and mine["files"] == 1
            listed = (await alice.call_tool("list_snapshots", {})).structured_content
            assert [(s["agent"], s["source"]) for s in listed["items"]] == [("alice", "workspace"), ("bob", "inline")]


async def test_stdio_with_litestream_replica(senv: SEnv) -> None:
    (senv.ws("alice") / "a.py").write_text("a\n")
    env = {**os.environ, "PYTHONPATH": str(REPO), "W2S_TOKEN": senv.tokens["alice"], "W2S_LITESTREAM": "true"}
    transport = StdioTransport(sys.executable, ["-m", "mcp_servers.snapshot", "--transport", "stdio"], env=env,
                               cwd=str(REPO))
    async with Client(transport) as alice:
        up = (await alice.call_tool("upload_snapshot", {"message": "over stdio"})).structured_content
    assert up["agent"] == "alice" and up["files"] == 1
    replica = senv.settings.state_dir / "replicas" / "snapshot"
    deadline = time.monotonic() + 20  # replication is asynchronous: the server flushes it while shutting down
    while not (replica.is_dir() and any(p.is_file() for p in replica.rglob("*"))):
        assert time.monotonic() < deadline, "no replica written"
        await asyncio.sleep(0.2)


async def test_a_6_mb_inline_snapshot_over_http(senv: SEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under the advertised inline cap, over real HTTP: the MCP SDK's own 4 MiB body limit no longer answers 413."""
    for name in ("W2S_SNAPSHOT_INLINE_MAX_BYTES", "W2S_SNAPSHOT_MAX_FILE_BYTES", "W2S_SNAPSHOT_MAX_TOTAL_BYTES"):
        monkeypatch.delenv(name, raising=False)  # the defaults, as advertised
    blob = os.urandom(6_000_000)  # incompressible: the tar.gz stays about 6 MB, its base64 about 8 MB
    archive_b64 = tar_b64([(member("weights.bin"), blob)])
    assert len(archive_b64) > 8_000_000
    app = build_server()
    async with running(app.http_app()) as url:
        transport = StreamableHttpTransport(f"{url}/mcp", headers={"Authorization": f"Bearer {senv.tokens['bob']}"})
        async with Client(transport, timeout=120) as bob:
            up = (await bob.call_tool("upload_snapshot", {"message": "big", "archive_b64": archive_b64})).data
    assert up.files == 1 and up.source == "inline"
