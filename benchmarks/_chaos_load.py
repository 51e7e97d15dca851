"""The chaos benchmark's load: simulated agents writing to every server at once over a minimal MCP client that
survives server restarts, each write retried with its idempotency key until acknowledged."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import random
import tarfile
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

ID_FIELD = {"grader": "submission_id", "findings": "finding_id", "snapshot": "snapshot_id"}
"""The field of each server's answer naming the stored row."""
TEST_ROWS = 120
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


class Retry(Exception):
    """The call did not get an answer (connection refused or closed, unknown session, timeout): send it again."""


class Refused(Exception):
    """The server answered with a tool error."""


class Mcp:
    """A minimal MCP streamable-HTTP client that survives server restarts (a new session after each)."""

    def __init__(self, http: httpx.AsyncClient, url: str, token: str) -> None:
        self.http, self.url, self.session = http, f"{url}/mcp", None
        self.headers = HEADERS | {"Authorization": f"Bearer {token}"}
        self._id = 0

    async def _post(self, body: dict[str, Any]) -> httpx.Response:
        headers = self.headers | ({"mcp-session-id": self.session} if self.session else {})
        try:
            response = await self.http.post(self.url, json=body, headers=headers)
        except (httpx.TransportError, httpx.TimeoutException) as exc:
            self.session = None
            raise Retry(type(exc).__name__) from None
        if response.status_code in (404, 502, 503):  # session lost with a restart, or still starting
            self.session = None
            raise Retry(str(response.status_code))
        response.raise_for_status()
        return response

    async def _connect(self) -> None:
        self._id += 1
        response = await self._post({"jsonrpc": "2.0", "id": self._id, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "chaos", "version": "0"}}})
        self.session = response.headers.get("mcp-session-id")
        await self._post({"jsonrpc": "2.0", "method": "notifications/initialized"})

    async def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        if self.session is None:
            await self._connect()
        self._id += 1
        response = await self._post({"jsonrpc": "2.0", "id": self._id, "method": "tools/call",
                                     "params": {"name": tool, "arguments": arguments}})
        message = _message(response)
        if message is None:
            self.session = None
            raise Retry("no answer in the stream")
        if "error" in message:
            raise Refused(str(message["error"].get("message")))
        result = message["result"]
        if result.get("isError"):
            raise Refused(" ".join(c.get("text", "") for c in result.get("content", [])))
        return dict(result["structuredContent"])


def _message(response: httpx.Response) -> dict[str, Any] | None:
    if response.headers.get("content-type", "").startswith("application/json"):
        return dict(response.json())
    data = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]
    return json.loads(data[-1]) if data else None


def _archive(tag: str) -> str:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        raw = f"# {tag}\nprint('chaos')\n".encode()
        info = tarfile.TarInfo("train.py")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
    return base64.b64encode(buffer.getvalue()).decode()


def _request(server: str, tag: str, rng: random.Random) -> tuple[str, dict[str, Any]]:
    if server == "grader":
        return "submit_predictions", {"dataset": "chaos", "note": tag, "idea": "chaos", "idempotency_key": tag,
                                      "predictions": [float(rng.random() < 0.5) for _ in range(TEST_ROWS)]}
    if server == "findings":
        return "post_finding", {"title": tag, "summary": "a chaos write", "body": "retried until acknowledged",
                                "finding_type": "hypothesis", "idea": "chaos", "method_family": "other",
                                "idempotency_key": tag}
    return "upload_snapshot", {"message": tag, "idea": "chaos", "archive_b64": _archive(tag), "idempotency_key": tag}


@dataclass
class Ack:
    server: str
    tag: str
    id: int
    at: float
    replayed: bool


@dataclass
class Log:
    acks: list[Ack] = field(default_factory=list)
    retries: int = 0
    timeouts: int = 0
    refused: list[str] = field(default_factory=list)
    unacknowledged: int = 0


async def writer(k: int, phase: str, name: str, client: Mcp, until: float, log: Log) -> None:
    """One agent's writes to one server, one at a time, each retried with its key until acknowledged."""
    rng = random.Random(f"{k}-{name}")
    i = 0
    while time.monotonic() < until:
        tag = f"{phase}-a{k}-{name[0]}{i}"
        tool, arguments = _request(name, tag, rng)
        i += 1
        give_up = until + 60  # a write started before the end is retried until acknowledged
        while True:
            try:
                answer = await client.call(tool, arguments)
            except Retry as exc:
                log.retries += 1
                log.timeouts += "Timeout" in str(exc)
                if time.monotonic() > give_up:
                    log.unacknowledged += 1
                    break
                await asyncio.sleep(0.1)
                continue
            except Refused as exc:
                log.refused.append(f"{name}: {str(exc)[:200]}")
                break
            log.acks.append(Ack(name, tag, int(answer[ID_FIELD[name]]), time.monotonic(),
                                bool(answer.get("replayed"))))
            break


async def agent(k: int, phase: str, urls: dict[str, str], token: str, until: float, log: Log) -> None:
    """An agent writing to every server at once (a stalled server does not hold up its other writes)."""
    # a long read timeout, as an agent's client has: a short one turns a slow restart into a retry storm
    async with httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=2.0)) as http:
        await asyncio.gather(*(writer(k, phase, name, Mcp(http, url, token), until, log)
                               for name, url in urls.items()))
