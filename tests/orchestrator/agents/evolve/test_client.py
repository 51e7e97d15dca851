"""The MCP client: URLs from the environment, one event per call, a refused connection retried then reported."""

from __future__ import annotations

from typing import Any, Self

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


async def test_a_write_whose_answer_was_lost_is_retried_with_the_same_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The grader replays a repeated key (tested against the real grader in tests/mcp_servers/grader); here: the
    client sends one key per call, keeps it across retries, and retries a keyed write after a lost answer."""
    import httpx

    sent: list[dict[str, Any]] = []

    class LosesTheFirstAnswer:
        async def __aenter__(self) -> Self:
            return self

        async def __aexit__(self, *exc: object) -> None:
            return None

        async def call_tool(self, tool: str, args: dict[str, Any]) -> Any:
            sent.append(dict(args))
            if len(sent) == 1:
                raise httpx.ReadError("connection closed after the request was sent")
            return type("Result", (), {"structured_content": {"submission_id": 7}, "data": None})()

    tools = Tools({"grader": "http://127.0.0.1:1/mcp"}, "t", lambda *a, **k: None, retries=2)
    monkeypatch.setattr(tools, "_client", lambda server: LosesTheFirstAnswer())
    assert await tools.call("grader", "submit_predictions", dataset="d", predictions=[1]) == {"submission_id": 7}
    assert len(sent) == 2 and sent[0]["idempotency_key"] == sent[1]["idempotency_key"]
    await tools.call("grader", "submit_predictions", dataset="d", predictions=[1])
    assert sent[2]["idempotency_key"] != sent[0]["idempotency_key"]  # a new call is a new submission
    sent.clear()
    with pytest.raises(ToolFailure):  # an unkeyed call is not retried after a lost answer
        monkeypatch.setattr(tools, "_client", lambda server: LosesTheFirstAnswer())
        await tools.call("grader", "leaderboard")
    assert len(sent) == 1 and "idempotency_key" not in sent[0]
