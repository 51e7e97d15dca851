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


@pytest.mark.slow
def test_a_dead_train_servers_job_is_taken_back_by_the_live_predict_server_and_its_slot_freed(compute_env) -> None:
    """Train and predict servers share one jobs db and one slot. SIGKILL the train server and its job's sandbox:
    the predict server, still alive, requeues the job within the lease and runs another agent's job in the slot."""
    import asyncio
    import os
    import signal
    import time

    from mcp_servers.core import create_sqlite_engine, read_session
    from mcp_servers.jobs import LEASE_S, JobQueue, JobRow

    queue = JobQueue(create_sqlite_engine(compute_env.settings.db_path("train")))
    train = compute_process("mcp_servers.train", compute_env.home, free_port()).start()
    predict = None
    try:
        async def start_jobs() -> tuple[str, str]:
            async with http_client(train.url, compute_env.tokens["alice"]) as alice, \
                    http_client(train.url, compute_env.tokens["bob"]) as bob:
                job = await call(alice, "start_training", dataset="sentiment", recipe="weak", config=LONG_WEAK)
                queued = await call(bob, "start_training", dataset="sentiment", recipe="weak", config={"max_steps": 1})
                return job["id"], queued["id"]

        running, queued = asyncio.run(start_jobs())

        def row(job_id: str) -> JobRow:
            with read_session(queue.engine) as session:
                found = session.get(JobRow, job_id)
            assert found is not None
            return found

        deadline = time.monotonic() + 60
        while row(running).pid is None:  # the train server runs alice's job; bob's waits for the only slot
            assert time.monotonic() < deadline, "alice's job never started"
            time.sleep(0.1)
        sandbox = row(running).pid
        assert row(queued).state == "queued"
        predict = compute_process("mcp_servers.predict", compute_env.home, free_port()).start()
        os.kill(sandbox, signal.SIGKILL)
        train.kill9()
        killed = time.monotonic()
        while row(running).state == "running" and row(running).attempts == 1:
            assert time.monotonic() - killed < LEASE_S + 5, "the job still shows running on the live server"
            time.sleep(0.05)
        taken_s = time.monotonic() - killed
        print(f"train server SIGKILLed -> its job requeued by the predict server in {taken_s:.2f} s "
              f"(lease {LEASE_S:.0f} s)")

        async def after() -> tuple[dict, dict]:
            async with http_client(predict.url, compute_env.tokens["alice"]) as alice, \
                    http_client(predict.url, compute_env.tokens["bob"]) as bob:
                view = await call(alice, "job_status", job_id=running)
                for _ in range(600):  # bob's job gets the freed slot (fair: bob has not run yet, alice has)
                    other = await call(bob, "job_status", job_id=queued)
                    if other["state"] in ("running", "succeeded"):
                        break
                    await asyncio.sleep(0.1)
                await call(alice, "cancel_job", job_id=running)
                return view, other

        view, other = asyncio.run(after())
        assert view["state"] in ("queued", "running") and "died or restarted during attempt 1" in view["message"]
        assert other["state"] in ("running", "succeeded"), other
    finally:
        train.stop()
        if predict is not None:
            predict.stop()
