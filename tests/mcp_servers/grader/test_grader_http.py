"""The grader over streamable HTTP (real uvicorn on a loopback port): tokens decide who may call and who you are."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport
from fastmcp.exceptions import ToolError

from mcp_servers.grader import build_server

INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def client(url: str, token: str) -> Client:
    return Client(StreamableHttpTransport(f"{url}/mcp", headers={"Authorization": f"Bearer {token}"}))


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
        async with client(url, env.tokens["alice"]) as alice:
            sub = (await alice.call_tool("submit_predictions", {
                "dataset": "toy", "predictions": [float(t) for t in env.truth["toy"]]})).structured_content
            assert sub["agent"] == "alice"
        async with client(url, env.tokens["bob"]) as bob:  # another agent's token: another identity
            mine = (await bob.call_tool("submit_predictions", {"dataset": "toy", "predictions": [1.0] * 1000}))
            assert mine.structured_content["agent"] == "bob"
            with pytest.raises(ToolError, match="no submission"):
                await bob.call_tool("get_submission", {"submission_id": sub["submission_id"]})
        with pytest.raises(Exception):  # noqa: B017 - any connect failure: the server said 401
            async with client(url, "w2s_not-a-token") as nobody:
                await nobody.list_tools()


async def test_revoked_token_is_refused_at_next_request(env: Any, serve_app: Any) -> None:
    app = build_server()
    async with serve_app(app.http_app()) as url:
        async with client(url, env.tokens["alice"]) as alice:
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
