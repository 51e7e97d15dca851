"""Route 7 of issue 11, as the attack: a NaN in a finding's config must neither be stored nor, when a row already
holds one, break read_finding / sync_findings / the syncer for every agent."""

from __future__ import annotations

import json
import math
import sqlite3
from typing import Any

import httpx
import pytest
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport
from fastmcp.exceptions import ToolError
from sqlalchemy import func
from sqlmodel import select

from mcp_servers.core import read_session
from mcp_servers.findings import build_server, sync_workspace
from mcp_servers.findings._clean import finite, non_finite_path, stored_json
from mcp_servers.findings._records import FindingRow
from tests.mcp_servers.findings.findings_helpers import FEnv, running

INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
POST = {"title": "t", "summary": "s", "body": "b", "finding_type": "insight", "idea": "i", "method_family": "other"}


def strict(text: str) -> Any:
    """JSON as a strict reader (a browser, the claude client) parses it: NaN and Infinity are errors."""
    def refuse(token: str) -> None:
        raise ValueError(f"non-JSON constant {token}")
    return json.loads(text, parse_constant=refuse)


def count(app: Any) -> int:
    with read_session(app.engine) as session:
        return int(session.exec(select(func.count()).select_from(FindingRow)).one())


def test_non_finite_path_and_finite() -> None:
    value = {"lr": 0.1, "opt": {"betas": [0.9, math.inf]}, "s": "nan", "n": None, "b": True}
    assert non_finite_path(value) == "config.opt.betas[1]"
    assert non_finite_path({"a": [{"b": -math.inf}]}) == "config.a[0].b" and non_finite_path({"x": 1}) is None
    assert finite(value) == {"lr": 0.1, "opt": {"betas": [0.9, None]}, "s": "nan", "n": None, "b": True}
    assert stored_json('{"a": NaN, "b": [Infinity]}', {}) == {"a": None, "b": [None]}
    assert stored_json("not json", {}) == {} and stored_json("[1]", {}) == {}


async def raw_call(http: httpx.AsyncClient, url: str, token: str, tool: str, arguments_json: str) -> dict[str, Any]:
    """One tools/call whose arguments are written by hand (a hostile client sends the `NaN` literal the Python
    client would have turned into null); answers the JSON-RPC result."""
    headers = HEADERS | {"Authorization": f"Bearer {token}"}
    init = await http.post(f"{url}/mcp", json=INIT, headers=headers)
    headers["mcp-session-id"] = init.headers["mcp-session-id"]
    await http.post(f"{url}/mcp", json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers)
    body = f'{{"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {{"name": "{tool}", ' \
           f'"arguments": {arguments_json}}}}}'
    answer = await http.post(f"{url}/mcp", content=body.encode(), headers=headers)
    data = [line[5:] for line in answer.text.splitlines() if line.startswith("data:")] or [answer.text]
    return strict(data[-1])["result"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(("config", "where"), [
    ('{"lr": NaN}', "config.lr"), ('{"opt": {"lrs": [1e-4, Infinity]}}', "config.opt.lrs[1]"),
    ('{"a": [[-Infinity]]}', "config.a[0][0]")])
async def test_nan_config_is_refused_over_http(fenv: FEnv, config: str, where: str) -> None:
    app = build_server()
    async with running(app.http_app()) as url, httpx.AsyncClient() as http:
        args = json.dumps(POST)[:-1] + f', "config": {config}}}'
        refused = await raw_call(http, url, fenv.tokens["alice"], "post_finding", args)
        assert refused["isError"] and f"{where} is not a finite number" in refused["content"][0]["text"]
        refused = await raw_call(http, url, fenv.tokens["alice"], "search_findings", '{"min_pgr": NaN}')
        assert refused["isError"] and "not a finite number" in refused["content"][0]["text"]
    assert count(app) == 0


async def test_stored_nan_row_breaks_nothing(fenv: FEnv) -> None:
    """A row written before the check (or by hand) with NaN config and scores: everyone can still read and sync."""
    alice = build_server(local_token=fenv.tokens["alice"])
    async with Client(alice.mcp) as client:
        fid = (await client.call_tool("post_finding", POST | {"config": {"lr": 1}})).structured_content["finding_id"]
        await client.call_tool("post_finding", POST | {"title": "fine"})
    with sqlite3.connect(fenv.settings.db_path("findings")) as conn:
        conn.execute("UPDATE findings_finding SET config_json = '{\"lr\": NaN, \"xs\": [Infinity, 1]}', "
                     "tags_json = 'garbage' WHERE id = ?", (fid,))
    app = build_server()
    async with running(app.http_app()) as url:
        for agent in ("alice", "bob"):
            transport = StreamableHttpTransport(f"{url}/mcp", headers={
                "Authorization": f"Bearer {fenv.tokens[agent]}"})
            async with Client(transport) as client:
                read = await client.call_tool("read_finding", {"finding_id": fid})
                synced = await client.call_tool("sync_findings", {"cursor": 0})
                found = await client.call_tool("search_findings", {})
            assert strict(read.content[0].text)["config"] == {"lr": None, "xs": [None, 1]}  # type: ignore[union-attr]
            assert read.structured_content["tags"] == []  # type: ignore[index]
            assert len(strict(synced.content[0].text)["findings"]) == 2  # type: ignore[union-attr]
            assert strict(found.content[0].text)["total"] == 2  # type: ignore[union-attr]
    ws = fenv.home / "workspaces" / "bob"
    ws.mkdir(parents=True)
    assert sync_workspace(ws, fenv.settings) == 3
    text = next((ws / "shared_findings").glob(f"{fid:05d}-*.md")).read_text()
    assert '"lr": null' in text and "NaN" not in text


async def test_a_token_is_never_posted_for_every_agent_to_read(fenv: FEnv) -> None:
    """A finding or comment is synced into every workspace: one carrying a token would hand it to everyone."""
    bob = build_server(local_token=fenv.tokens["bob"])
    async with Client(bob.mcp) as client:
        for field, value in (("body", f"curl -H 'Authorization: Bearer {fenv.tokens['alice']}'"),
                             ("summary", f"mine is {fenv.tokens['bob']}"),
                             ("config", {"headers": {"auth": fenv.tokens["alice"]}}),
                             ("body", "key sk-ant-api03-" + "x" * 40)):
            with pytest.raises(ToolError, match=rf"the {field} carries") as info:
                await client.call_tool("post_finding", POST | {field: value})
            assert fenv.tokens["alice"] not in str(info.value)
        fid = (await client.call_tool("post_finding", POST)).structured_content["finding_id"]  # type: ignore[index]
        with pytest.raises(ToolError, match="the comment carries a live w2s bearer token"):
            await client.call_tool("comment_finding", {"finding_id": fid, "body": f"try {fenv.tokens['carol']}"})
    assert count(bob) == 1
