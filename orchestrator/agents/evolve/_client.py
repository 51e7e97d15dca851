"""The agent's only way to act: MCP tool calls over streamable HTTP with its bearer token, one JSON event per call.

Each call opens a fresh session, so a server restarted under the agent (the orchestrator restarts crashed servers)
costs one retry, not the run. A write that the servers make idempotent (`KEYED`) carries a fresh
`idempotency_key`, reused by every retry of that call, so it is retried after any transport failure (the answer
lost after the server committed included) and still stored once; any other call is retried only when the
connection was refused before anything was sent.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport
from fastmcp.exceptions import ToolError

SERVERS = ("grader", "findings", "snapshot", "train", "predict")
KEYED: frozenset[tuple[str, str]] = frozenset({
    ("grader", "submit_predictions"), ("findings", "post_finding"), ("snapshot", "upload_snapshot"),
    ("train", "start_training"), ("predict", "predict"),
})
"""Writes whose servers answer a repeated `idempotency_key` with the first result instead of storing it again."""
Emit = Callable[..., None]


class ToolFailure(RuntimeError):
    """A tool answered an error (refused, bad input) or the server could not be reached."""

    def __init__(self, server: str, tool: str, message: str, *, unreachable: bool = False) -> None:
        super().__init__(f"{server}.{tool}: {message}")
        self.server, self.tool, self.message, self.unreachable = server, tool, message, unreachable


def endpoint(url: str) -> str:
    """`W2S_<SERVER>_URL` may be the base URL or the `/mcp` endpoint itself."""
    url = url.strip().rstrip("/")
    return url if url.endswith("/mcp") else f"{url}/mcp"


def urls_from_env(env: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if env is None else env)
    missing = [f"W2S_{s.upper()}_URL" for s in SERVERS if not env.get(f"W2S_{s.upper()}_URL")]
    if missing:
        raise SystemExit(f"evolve: set {', '.join(missing)} (the MCP servers' URLs) and W2S_TOKEN")
    return {s: endpoint(env[f"W2S_{s.upper()}_URL"]) for s in SERVERS}


def _refused(exc: BaseException) -> bool:
    """True when the connection itself failed (nothing reached the server)."""
    import httpx

    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        err = stack.pop()
        if id(err) in seen:
            continue
        seen.add(id(err))
        if isinstance(err, httpx.ConnectError | ConnectionRefusedError):
            return True
        if isinstance(err, BaseExceptionGroup):
            stack.extend(err.exceptions)
        stack.extend(e for e in (err.__cause__, err.__context__) if e is not None)
    return False


class Tools:
    def __init__(self, urls: dict[str, str], token: str, emit: Emit, retries: int = 4, timeout_s: float = 330.0) -> None:
        unknown = set(urls) - set(SERVERS)
        if unknown:
            raise ValueError(f"unknown servers {sorted(unknown)}")
        self.urls, self._token, self.emit, self.retries, self.timeout_s = urls, token, emit, retries, timeout_s
        self.calls = 0

    def _client(self, server: str) -> Client:
        transport = StreamableHttpTransport(self.urls[server], headers={"Authorization": f"Bearer {self._token}"})
        return Client(transport, timeout=self.timeout_s)

    async def call(self, server: str, tool: str, **args: Any) -> dict[str, Any]:
        """The tool's structured answer (a list answer comes as {"result": [...]}); ToolFailure otherwise."""
        if server not in self.urls:
            raise ToolFailure(server, tool, f"no URL for the {server} server", unreachable=True)
        keyed = (server, tool) in KEYED
        if keyed:
            args.setdefault("idempotency_key", uuid.uuid4().hex)  # one key for every attempt of this call
        delay = 1.0
        for attempt in range(self.retries + 1):
            started = time.monotonic()
            try:
                async with self._client(server) as client:
                    result = await client.call_tool(tool, args)
            except ToolError as exc:
                self._event(server, tool, started, ok=False, error=str(exc)[:300])
                raise ToolFailure(server, tool, str(exc)) from None
            except Exception as exc:  # noqa: BLE001 - transport errors come in many types; classified below
                refused = _refused(exc)
                self._event(server, tool, started, ok=False, error=f"{type(exc).__name__}: {str(exc)[:200]}")
                if (refused or keyed) and attempt < self.retries:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 15.0)
                    continue
                raise ToolFailure(server, tool, f"{type(exc).__name__}: {exc}", unreachable=True) from None
            self._event(server, tool, started, ok=True)
            data = result.structured_content
            if isinstance(data, dict):
                return data
            return {"result": result.data}
        raise AssertionError("unreachable")

    def _event(self, server: str, tool: str, started: float, *, ok: bool, error: str | None = None) -> None:
        self.calls += 1
        fields: dict[str, Any] = {"server": server, "tool": tool, "ok": ok,
                                  "ms": round(1000 * (time.monotonic() - started))}
        if error:
            fields["error"] = error
        self.emit("tool_call", **fields)
