"""The predict server over stdio: the caller is the W2S_TOKEN it was started with."""

from __future__ import annotations

import os
import sys

from fastmcp import Client
from fastmcp.client.transports import StdioTransport
from fastmcp.exceptions import ToolError

from tests.mcp_servers.server_helpers import REPO


async def test_stdio_identity_comes_from_the_token(compute_env) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "W2S_TOKEN": compute_env.tokens["alice"], "W2S_COMPUTE_SLOTS": "1"}
    transport = StdioTransport(sys.executable, ["-m", "mcp_servers.predict", "--transport", "stdio"], env=env,
                               cwd=str(REPO))
    async with Client(transport) as alice:
        names = {tool.name for tool in await alice.list_tools()}
        assert {"predict", "read_predictions", "job_status", "wait_job", "cancel_job", "list_jobs"} <= names
        assert (await alice.call_tool("list_jobs", {})).structured_content == {"result": []}
        try:
            await alice.call_tool("predict", {"dataset": "sentiment", "model": "mpnet-base"})
        except ToolError as exc:
            assert "encoder" in str(exc)
        else:
            raise AssertionError("an untrained encoder must be refused")
