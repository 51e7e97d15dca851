"""The findings server over streamable HTTP (real uvicorn on 127.0.0.1) with bearer auth, and over stdio."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx
from fastmcp import Client
from fastmcp.client.transports import StdioTransport, StreamableHttpTransport

from mcp_servers.findings import build_server
from tests.mcp_servers.findings.findings_helpers import FEnv, running

INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}
REPO = Path(__file__).resolve().parents[3]
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def client(url: str, token: str) -> Client:
    return Client(StreamableHttpTransport(f"{url}/mcp", headers={"Authorization": f"Bearer {token}"}))


async def test_http_with_bearer_tokens(fenv: FEnv) -> None:
    sid = fenv.submit("alice", 0.8)
    app = build_server()
    async with running(app.http_app()) as url:
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{url}/health")).json() == {"status": "ok", "server": "findings"}
            for token, status in ((None, 401), ("w2s_unknown", 401), (fenv.tokens["grader-only"], 403)):
                headers = HEADERS | ({"Authorization": f"Bearer {token}"} if token else {})  # live, not scoped: 403
                assert (await http.post(f"{url}/mcp", json=INIT, headers=headers)).status_code == status
        async with client(url, fenv.tokens["alice"]) as alice:
            posted = (await alice.call_tool("post_finding", {
                "title": "Over HTTP", "summary": "s", "body": "b", "finding_type": "result", "idea": "i",
                "method_family": "ensemble", "submission_ids": [sid]})).structured_content
        async with client(url, fenv.tokens["bob"]) as bob:
            await bob.call_tool("comment_finding", {"finding_id": posted["finding_id"], "body": "seen"})
            view = (await bob.call_tool("read_finding", {"finding_id": posted["finding_id"]})).structured_content
    assert view["agent"] == "alice" and view["comments"][0]["agent"] == "bob"
    assert view["submissions"][0]["submission_id"] == sid


async def test_stdio_identity_from_env_token(fenv: FEnv) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "W2S_TOKEN": fenv.tokens["carol"]}
    transport = StdioTransport(sys.executable, ["-m", "mcp_servers.findings", "--transport", "stdio"], env=env,
                               cwd=str(REPO))
    async with Client(transport) as carol:
        posted = (await carol.call_tool("post_finding", {
            "title": "Over stdio", "summary": "s", "body": "b", "finding_type": "hypothesis", "idea": "i",
            "method_family": "other"})).structured_content
        found = (await carol.call_tool("search_findings", {"query": "stdio"})).structured_content
    assert found["items"][0]["id"] == posted["finding_id"] and found["items"][0]["agent"] == "carol"
