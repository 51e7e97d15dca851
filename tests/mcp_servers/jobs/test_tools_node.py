"""wait_job from the official TypeScript MCP SDK (tests/node/wait_job.mjs, the SDK pinned in tests/node/) against a
real train server on loopback, following a real sandboxed job that runs past the SDK's 60 s request timeout."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from mcp_servers.jobs._tools import DEFAULT_WAIT_S, HEARTBEAT_S
from tests.mcp_servers.node_helpers import node_sdk
from tests.mcp_servers.server_helpers import running

pytestmark = [pytest.mark.bwrap, pytest.mark.slow]
SDK_TIMEOUT_S = 60.0
JOB_S = DEFAULT_WAIT_S + SDK_TIMEOUT_S + 10  # the long call still waits past 60 s after the plain one's wait


@pytest.fixture(scope="module")
def node_client() -> Path:
    return node_sdk() / "wait_job.mjs"


async def test_the_typescript_sdk_waits_past_its_60_s_timeout_on_progress(node_client: Path, servers: dict,
                                                                           compute_env) -> None:
    train = servers["train"]
    job = train.service.queue.submit("alice", "sleep", "trainer.jobs.builtin:sleep_job",
                                     {"seconds": JOB_S, "steps": 3})  # progress moves every 30 s: heartbeats between
    async with running(train.http_app()) as url:
        node = await asyncio.create_subprocess_exec(
            shutil.which("node") or "node", str(node_client), f"{url}/mcp", job.id, str(JOB_S + 60),
            env={"PATH": "/usr/bin:/bin", "W2S_TOKEN": compute_env.tokens["alice"]},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(node.communicate(), timeout=JOB_S + 240)
    assert node.returncode == 0, err.decode()[-2000:]
    plain, long = (json.loads(line) for line in out.decode().splitlines())
    assert long["timeout_ms"] == SDK_TIMEOUT_S * 1000  # the SDK's default request timeout applied to both calls
    # A plain call (no options) with the default wait comes back well before the SDK's timeout.
    assert plain["ok"] and plain["state"] in ("queued", "running"), plain
    assert DEFAULT_WAIT_S - 1 <= plain["elapsed_s"] < SDK_TIMEOUT_S - 20, plain
    # With resetTimeoutOnProgress the same default timeout never fires: the heartbeat resets it.
    assert long["ok"] and long["state"] == "succeeded", long
    assert long["elapsed_s"] > SDK_TIMEOUT_S, long
    gaps = [b["at_s"] - a["at_s"] for a, b in zip(long["progress"], long["progress"][1:], strict=False)]
    assert len(long["progress"]) >= long["elapsed_s"] / HEARTBEAT_S - 2 and max(gaps) < HEARTBEAT_S + 2, long
