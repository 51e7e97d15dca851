"""The per-agent model-API proxy against the scripted stand-in: key swap, usage and cost recorded, budget."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from orchestrator._db import AgentRow, LaunchRow, StateDB
from orchestrator._proxy import ModelProxy, UsageScanner
from tests.orchestrator.scripted_api import ScriptedAPI

TOOLS = [{"name": "t", "description": "d", "input_schema": {"type": "object"}}]


def _db() -> StateDB:
    db = StateDB()
    db.add_launch(LaunchRow(id="L", started_at=time.time(), n_agents=1, agent_kind="claude", dataset="d", pid=1))
    db.upsert_agent(AgentRow(name="a1", launch_id="L", kind="claude", direction="open", started_at=time.time()))
    return db


def test_proxy_swaps_the_key_records_usage_and_enforces_the_budget(w2s_home: Path) -> None:
    db = _db()
    script = [lambda results: ("t", {"x": 1})]
    with ScriptedAPI(script) as api:
        proxy = ModelProxy(db, "a1", "L", budget_usd=0.02, api_key="sk-real", upstream=api.url).start()
        try:
            body = {"model": "claude-sonnet-4-5", "max_tokens": 10, "stream": True, "tools": TOOLS,
                    "messages": [{"role": "user", "content": "hi"}]}
            denied = httpx.post(proxy.url + "/v1/messages", json=body, headers={"x-api-key": "sk-real"})
            assert denied.status_code == 401 and not api.requests  # the real key is not a proxy key
            reply = httpx.post(proxy.url + "/v1/messages?beta=true", json=body, headers={"x-api-key": proxy.proxy_key})
            assert reply.status_code == 200 and "tool_use" in reply.text
            assert api.requests[-1]["headers"]["x-api-key"] == "sk-real"
            (call,) = db.calls("a1", "L")
            assert (call.input_tokens, call.output_tokens, call.status) == (1000, 50, 200)
            assert abs(call.cost_usd - (1000 * 3 + 50 * 15) / 1e6) < 1e-12
            plain = httpx.post(proxy.url + "/v1/messages", json={**body, "stream": False},
                               headers={"authorization": f"Bearer {proxy.proxy_key}"})
            assert plain.status_code == 200 and len(db.calls("a1", "L")) == 2
            db.update_agent("a1", cost_usd=0.02)
            spent = httpx.post(proxy.url + "/v1/messages", json=body, headers={"x-api-key": proxy.proxy_key})
            assert spent.status_code == 400 and "budget" in spent.json()["error"]["message"]
            assert len(api.requests) == 2  # refused before reaching the API
        finally:
            proxy.stop()


def test_usage_scanner_reads_split_sse_chunks() -> None:
    scanner = UsageScanner()
    stream = (b'event: message_start\ndata: {"type":"message_start","message":{"model":"claude-haiku-4-5",'
              b'"usage":{"input_tokens":7,"output_tokens":1}}}\n\nevent: message_delta\ndata: {"type":"message_delta",'
              b'"usage":{"output_tokens":30}}\n\n')
    for i in range(0, len(stream), 13):
        scanner.feed_sse(stream[i:i + 13])
    assert (scanner.usage.model, scanner.usage.input_tokens, scanner.usage.output_tokens) == ("claude-haiku-4-5", 7, 30)
