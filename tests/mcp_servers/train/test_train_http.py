"""The train server as deployed: HTTP with bearer tokens, two agents, and a kill -9 in the middle of a job."""

from __future__ import annotations

import httpx
import pytest
from fastmcp.exceptions import ToolError

from tests.mcp_servers.compute_fixtures import call, compute_process, free_port, http_client

INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
LONG_WEAK = {"max_steps": 400, "batch_size": 8, "epochs": 50}


@pytest.mark.slow
def test_tokens_agents_and_a_kill_9_mid_job(compute_env) -> None:
    import asyncio

    server = compute_process("mcp_servers.train", compute_env.home, free_port()).start()
    try:
        for token in (None, "w2s_wrong", compute_env.tokens["grader-only"]):
            headers = HEADERS | ({"Authorization": f"Bearer {token}"} if token else {})
            expected = 403 if token == compute_env.tokens["grader-only"] else 401  # 403: live token, no train scope
            assert httpx.post(f"{server.url}/mcp", json=INIT, headers=headers).status_code == expected

        async def start_jobs() -> tuple[str, str]:
            async with http_client(server.url, compute_env.tokens["alice"]) as alice, \
                    http_client(server.url, compute_env.tokens["bob"]) as bob:
                job = await call(alice, "start_training", dataset="sentiment", recipe="weak", config=LONG_WEAK)
                queued = await call(bob, "start_training", dataset="sentiment", recipe="weak",
                                    config={"max_steps": 1})
                with pytest.raises(ToolError, match="no job"):  # bob cannot see or cancel alice's job
                    await call(bob, "cancel_job", job_id=job["id"])
                assert [j["id"] for j in (await call(bob, "list_jobs"))["result"]] == [queued["id"]]
                for _ in range(600):
                    if (await call(alice, "job_status", job_id=job["id"]))["state"] == "running":
                        break
                    await asyncio.sleep(0.1)
                return job["id"], queued["id"]

        running, queued = asyncio.run(start_jobs())
        server.kill9()
        server = compute_process("mcp_servers.train", compute_env.home, server.port).start()

        async def after_restart() -> tuple[dict, dict]:
            async with http_client(server.url, compute_env.tokens["alice"]) as alice, \
                    http_client(server.url, compute_env.tokens["bob"]) as bob:
                view = await call(alice, "job_status", job_id=running)
                other = await call(bob, "job_status", job_id=queued)
                await call(alice, "cancel_job", job_id=running)
                return view, other

        view, other = asyncio.run(after_restart())
        assert view["attempts"] >= 1 and view["state"] in ("queued", "running")
        assert "restarted" in view["message"] or view["attempts"] == 2, view
        assert other["state"] in ("queued", "running", "succeeded")  # bob's job survived too
    finally:
        server.stop()
