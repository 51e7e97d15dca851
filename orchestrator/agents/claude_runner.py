"""One Claude session inside the agent's sandbox: claude-agent-sdk `query()` with the bundled claude CLI.

    python -m orchestrator.agents.claude_runner < session.json

stdin carries the session as JSON (`RunnerConfig`): system prompt, first user prompt, model, max turns, budget
and the MCP server URLs. The bearer token comes from `W2S_TOKEN`, the model API from `ANTHROPIC_BASE_URL` (the
host's per-agent proxy) and `ANTHROPIC_API_KEY` (a key only that proxy accepts). Every message is printed as one
JSON line on stdout; the host keeps them as the transcript. Exit codes: 0 the session ended normally, 2 bad
input, 3 an MCP server is not connected (the line says which), 4 the session ended in an error.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys
from typing import Any

from pydantic import BaseModel, Field, ValidationError

EXIT_OK, EXIT_INPUT, EXIT_MCP, EXIT_ERROR = 0, 2, 3, 4


class RunnerConfig(BaseModel):
    system_prompt: str = Field(min_length=1)
    prompt: str = Field(min_length=1)
    servers: dict[str, str] = Field(min_length=1, description="MCP server name -> streamable HTTP URL")
    model: str | None = None
    max_turns: int | None = Field(default=None, ge=1)
    max_budget_usd: float | None = Field(default=None, gt=0)
    cwd: str = "/w2s/workspace"


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}, default=str), flush=True)


def _plain(message: object) -> dict[str, Any]:
    data = dataclasses.asdict(message) if dataclasses.is_dataclass(message) else {"repr": repr(message)}  # type: ignore[arg-type]
    return {"type": type(message).__name__, **data}


def not_connected(init_data: dict[str, Any], expected: set[str]) -> list[str]:
    """`name (status)` of every expected server the init message does not list as connected."""
    status = {s.get("name"): s.get("status") for s in init_data.get("mcp_servers", []) if isinstance(s, dict)}
    return [f"{name} ({status.get(name, 'missing')})" for name in sorted(expected) if status.get(name) != "connected"]


async def run(config: RunnerConfig, token: str) -> int:
    from claude_agent_sdk import ClaudeAgentOptions, ResultMessage, SystemMessage, query

    servers = {name: {"type": "http", "url": url, "headers": {"Authorization": f"Bearer {token}"}}
               for name, url in config.servers.items()}
    options = ClaudeAgentOptions(
        system_prompt=config.system_prompt, cwd=config.cwd, mcp_servers=servers,  # type: ignore[arg-type]
        strict_mcp_config=True, setting_sources=[], permission_mode="bypassPermissions",
        max_turns=config.max_turns, max_budget_usd=config.max_budget_usd, model=config.model,
        env={"HOME": os.environ.get("HOME", config.cwd + "/.home")}, stderr=lambda line: None,
    )
    code = EXIT_OK
    try:
        async for message in query(prompt=config.prompt, options=options):
            emit("message", message=_plain(message))
            if isinstance(message, SystemMessage) and message.subtype == "init":
                missing = not_connected(message.data, set(servers))
                if missing:
                    emit("error", reason="mcp server not connected: " + ", ".join(missing))
                    return EXIT_MCP
            if isinstance(message, ResultMessage):
                emit("result", subtype=message.subtype, is_error=message.is_error, num_turns=message.num_turns,
                     cost_usd=message.total_cost_usd, stop_reason=message.stop_reason)
                code = EXIT_ERROR if message.is_error else EXIT_OK
    except Exception as exc:  # noqa: BLE001 - the host decides about retries; it needs the reason as data
        emit("error", reason=f"{type(exc).__name__}: {str(exc)[:2000]}")
        return EXIT_ERROR
    return code


def main() -> int:
    token = os.environ.get("W2S_TOKEN", "")
    try:
        config = RunnerConfig.model_validate_json(sys.stdin.read())
    except ValidationError as exc:
        emit("error", reason=f"bad session config on stdin: {exc.errors()[:3]}")
        return EXIT_INPUT
    if not token:
        emit("error", reason="W2S_TOKEN is not set; the orchestrator gives every agent its own token")
        return EXIT_INPUT
    return asyncio.run(run(config, token))


if __name__ == "__main__":
    raise SystemExit(main())
