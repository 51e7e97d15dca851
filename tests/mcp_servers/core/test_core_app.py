from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport
from fastmcp.exceptions import ToolError
from pydantic import BaseModel

from mcp_servers.core import ServerApp, TokenStore, tool_error


class WhoAmI(BaseModel):
    agent: str
    admin: bool


def demo_app(local_token: str | None = None) -> ServerApp:
    app = ServerApp("grader", local_token=local_token)

    @app.mcp.tool(annotations={"readOnlyHint": True})
    def whoami() -> WhoAmI:
        who = app.identity()
        return WhoAmI(agent=who.agent, admin=who.is_admin)

    @app.mcp.tool
    def admin_only() -> str:
        return app.require_admin().agent

    @app.mcp.tool
    def fails() -> str:
        raise tool_error("bad thing", "send a good thing")

    return app


async def test_in_memory_identity_from_local_token(state: Path) -> None:
    token = TokenStore(state / "tokens.db").mint("alice", ["grader"])
    async with Client(demo_app(token).mcp) as client:
        assert (await client.call_tool("whoami", {})).structured_content == {"agent": "alice", "admin": False}
        with pytest.raises(ToolError, match="admin"):
            await client.call_tool("admin_only", {})
        with pytest.raises(ToolError, match="bad thing. send a good thing."):
            await client.call_tool("fails", {})


async def test_http_health_401_and_identity(state: Path) -> None:
    tokens = TokenStore(state / "tokens.db")
    alice, other = tokens.mint("alice", ["grader"]), tokens.mint("bob", ["findings"])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(demo_app().http_app(), host="127.0.0.1", port=port, log_level="error"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{url}/health")).status_code == 200
            revoked = tokens.mint("carol", ["grader"])
            tokens.revoke(agent="carol")
            for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Bearer {revoked}"}):
                assert (await http.post(f"{url}/mcp", json={}, headers=headers)).status_code == 401
            # A live token of another server: 403 that names the scope, not a 401 that sends clients to OAuth.
            wrong_scope = await http.post(f"{url}/mcp", json={}, headers={"Authorization": f"Bearer {other}"})
            assert wrong_scope.status_code == 403
            assert "lacks the grader scope" in wrong_scope.json()["error_description"]
            assert 'error="insufficient_scope"' in wrong_scope.headers["www-authenticate"]
        transport = StreamableHttpTransport(f"{url}/mcp", headers={"Authorization": f"Bearer {alice}"})
        async with Client(transport) as client:
            assert (await client.call_tool("whoami", {})).structured_content["agent"] == "alice"
    finally:
        server.should_exit = True
        await task


async def test_one_body_limit_over_http(state: Path) -> None:
    """Bodies under W2S_MAX_REQUEST_BYTES reach the tool (the MCP SDK's own 4 MiB limit no longer applies first);
    bodies over it get 413 with a message that names the limit."""
    token = TokenStore(state / "tokens.db").mint("alice", ["grader"])
    app = demo_app()

    @app.mcp.tool
    def size(blob: str) -> int:
        return len(blob)

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app.http_app(), host="127.0.0.1", port=port, log_level="error"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    url = f"http://127.0.0.1:{port}"
    try:
        transport = StreamableHttpTransport(f"{url}/mcp", headers={"Authorization": f"Bearer {token}"})
        async with Client(transport) as client:
            assert (await client.call_tool("size", {"blob": "x" * 6_000_000})).structured_content == {
                "result": 6_000_000}
        async with httpx.AsyncClient() as http:
            refused = await http.post(f"{url}/mcp", content=b"x" * (app.settings.max_request_bytes + 1),
                                      headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 413 and "W2S_MAX_REQUEST_BYTES" in refused.text
    finally:
        server.should_exit = True
        await task


async def test_a_revoked_local_token_stops_working(state: Path) -> None:
    store = TokenStore(state / "tokens.db")
    token = store.mint("alice", ["grader"])
    async with Client(demo_app(token).mcp) as client:
        assert (await client.call_tool("whoami", {})).structured_content["agent"] == "alice"
        store.revoke(agent="alice")
        with pytest.raises(ToolError, match="revoked"):
            await client.call_tool("whoami", {})
