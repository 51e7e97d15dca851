"""The per-agent model-API proxy on the host: the only way a Claude agent reaches the Anthropic API.

The sandbox is given `ANTHROPIC_BASE_URL=http://127.0.0.1:<port>` (listed in its egress) and a per-agent proxy
key as `ANTHROPIC_API_KEY`; the real key never enters a sandbox. The proxy checks the proxy key, swaps in the
real key, forwards to the upstream API (streaming through), reads the `usage` of every response (SSE or JSON),
stores one `api_call` row per request with its cost and refuses new requests once the agent's budget is spent.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import socket
import threading
import time
from collections.abc import AsyncIterator

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from orchestrator._db import ApiCallRow, StateDB
from orchestrator._pricing import Usage

log = logging.getLogger(__name__)
DEFAULT_UPSTREAM = "https://api.anthropic.com"
_HOP = {"host", "content-length", "connection", "transfer-encoding", "keep-alive", "x-api-key", "authorization",
        "accept-encoding", "proxy-authorization", "te", "upgrade"}
_HOP_BACK = {"content-length", "content-encoding", "transfer-encoding", "connection", "keep-alive"}


def _error(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse({"type": "error", "error": {"type": kind, "message": message}}, status_code=status)


class UsageScanner:
    """Follows an SSE stream (or a JSON body) chunk by chunk and keeps the usage it reports."""

    def __init__(self) -> None:
        self.usage = Usage()
        self._buffer = b""

    def feed_sse(self, chunk: bytes) -> None:
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            if line.startswith(b"data:"):
                self._event(line[5:].strip())

    def feed_json(self, body: bytes) -> None:
        self._event(body)

    def _event(self, raw: bytes) -> None:
        try:
            data = json.loads(raw)
        except ValueError:
            return
        if not isinstance(data, dict):
            return
        message = data.get("message") if data.get("type") == "message_start" else data
        if isinstance(message, dict):
            if isinstance(message.get("model"), str):
                self.usage.model = message["model"][:100]
            if isinstance(message.get("usage"), dict):
                self.usage.merge(message["usage"])
        if isinstance(data.get("usage"), dict):
            self.usage.merge(data["usage"])


class ModelProxy:
    """One agent's proxy: a uvicorn server in a thread on a loopback port of its own."""

    def __init__(self, db: StateDB, agent: str, launch_id: str, budget_usd: float | None, api_key: str,
                 upstream: str = DEFAULT_UPSTREAM, host: str = "127.0.0.1") -> None:
        self.db, self.agent, self.launch_id, self.budget_usd = db, agent, launch_id, budget_usd
        self._api_key, self.upstream, self.host = api_key, upstream.rstrip("/"), host
        self.proxy_key = "w2s-proxy-" + secrets.token_urlsafe(24)
        """What the sandbox holds as ANTHROPIC_API_KEY: worthless outside this proxy."""
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, 0))
        self.port: int = self._socket.getsockname()[1]
        self._client: httpx.AsyncClient | None = None
        app = Starlette(routes=[Route("/{path:path}", self._forward, methods=["GET", "POST", "PUT", "DELETE"])])
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
        self._thread = threading.Thread(target=self._run, name=f"proxy-{agent}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def spent(self) -> float:
        row = self.db.agent(self.agent)
        return row.cost_usd if row is not None and row.launch_id == self.launch_id else 0.0

    def budget_left(self) -> bool:
        return self.budget_usd is None or self.spent() < self.budget_usd

    def start(self) -> ModelProxy:
        self._socket.listen(64)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()

    def _run(self) -> None:
        self._server.run(sockets=[self._socket])

    def _authorized(self, request: Request) -> bool:
        given = request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix("Bearer ")
        return hmac.compare_digest(given.encode(), self.proxy_key.encode())

    async def _forward(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, "authentication_error", "unknown key for this proxy")
        path = request.url.path
        is_message = request.method == "POST" and path.rstrip("/").endswith("/v1/messages")
        if is_message and not self.budget_left():
            return _error(400, "invalid_request_error",
                          f"w2s: the budget of ${self.budget_usd:.2f} for agent {self.agent} is spent; stop working")
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(600.0, connect=30.0))
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        headers["x-api-key"] = self._api_key
        headers["accept-encoding"] = "identity"
        body = await request.body()
        upstream = self._client.build_request(request.method, self.upstream + path, params=request.query_params,
                                              headers=headers, content=body)
        try:
            reply = await self._client.send(upstream, stream=True)
        except httpx.HTTPError as exc:
            self._record(Usage(), 502)
            return _error(502, "api_error", f"w2s proxy could not reach the model API: {type(exc).__name__}")
        back = {k: v for k, v in reply.headers.items() if k.lower() not in _HOP_BACK}
        streaming = reply.headers.get("content-type", "").startswith("text/event-stream")
        return StreamingResponse(self._relay(reply, is_message, streaming), status_code=reply.status_code,
                                 headers=back)

    async def _relay(self, reply: httpx.Response, is_message: bool, streaming: bool) -> AsyncIterator[bytes]:
        scanner, body = UsageScanner(), bytearray()
        try:
            async for chunk in reply.aiter_raw():
                if is_message:
                    if streaming:
                        scanner.feed_sse(chunk)
                    elif len(body) < 8 * 1024 * 1024:
                        body.extend(chunk)
                yield chunk
        finally:
            await reply.aclose()
            if is_message:
                if not streaming:
                    scanner.feed_json(bytes(body))
                self._record(scanner.usage, reply.status_code)

    def _record(self, usage: Usage, status: int) -> None:
        try:
            self.db.record_call(ApiCallRow(agent=self.agent, launch_id=self.launch_id, at=time.time(),
                                           model=usage.model, input_tokens=usage.prompt_tokens,
                                           output_tokens=usage.output_tokens, cost_usd=usage.cost_usd(),
                                           status=status))
        except Exception:  # a lost row must not break the agent's stream; the log says so
            log.exception("could not record an API call of %s", self.agent)
