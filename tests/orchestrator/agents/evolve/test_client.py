"""The MCP client: URLs from the environment, one event per call, a refused connection retried then reported."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.agents.evolve._client import SERVERS, ToolFailure, Tools, endpoint, urls_from_env
from tests.mcp_servers.server_helpers import free_port


def test_urls_from_env_accept_base_or_endpoint_and_name_what_is_missing() -> None:
    env = {f"W2S_{s.upper()}_URL": f"http://127.0.0.1:{8100 + i}" for i, s in enumerate(SERVERS)}
    env["W2S_GRADER_URL"] = "http://127.0.0.1:9000/mcp/"
    urls = urls_from_env(env)
    assert urls["grader"] == "http://127.0.0.1:9000/mcp" and urls["train"] == "http://127.0.0.1:8103/mcp"
    assert endpoint(" http://h:1 ") == "http://h:1/mcp"
    del env["W2S_TRAIN_URL"]
    with pytest.raises(SystemExit, match="W2S_TRAIN_URL"):
        urls_from_env(env)


async def test_refused_connection_is_retried_then_reported_without_the_token() -> None:
    events: list[dict[str, Any]] = []
    tools = Tools({"grader": f"http://127.0.0.1:{free_port()}/mcp"}, "w2s_secret-token",
                  lambda event, **f: events.append({"event": event, **f}), retries=1)
    with pytest.raises(ToolFailure) as failure:
        await tools.call("grader", "list_datasets")
    assert failure.value.unreachable and failure.value.server == "grader"
    assert [e["ok"] for e in events] == [False, False] and all(e["tool"] == "list_datasets" for e in events)
    assert "w2s_secret-token" not in repr(events) + str(failure.value)
    with pytest.raises(ValueError, match="unknown servers"):
        Tools({"nope": "http://x"}, "t", lambda *a, **k: None)
