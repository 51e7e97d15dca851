"""`ServerApp`: a FastMCP server with w2s auth, a database, a health route and a request-size limit.

A server module builds one `ServerApp[S]` around its service `S` (the library object its tools call: `Grader`,
`FindingsService`, ...), registers tools on `app.mcp`, calls `app.identity()` inside a tool to learn who is calling,
and uses `app.engine` with `write_session` / `read_session`. Callers reach the service as `app.service`, typed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from functools import cached_property
from typing import Any, Generic, TypeVar, overload

from fastmcp import FastMCP
from fastmcp.server.dependencies import get_access_token
from sqlalchemy import Engine
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mcp_servers.core._auth import DbTokenVerifier, identity_from_access_token
from mcp_servers.core._db import create_sqlite_engine
from mcp_servers.core._errors import ArgumentErrors, tool_error
from mcp_servers.core._settings import ServerSettings
from mcp_servers.core._tokens import Identity, TokenStore

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
S = TypeVar("S")


class BodyLimitMiddleware:
    """Refuse HTTP bodies over `max_bytes` with 413 (by Content-Length, and while streaming)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self._refuse(send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _TooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = (f"request body over this server's limit of {self.max_bytes} bytes (W2S_MAX_REQUEST_BYTES); send a "
                "smaller payload: for a snapshot, upload from your workspace instead of inline").encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


class ScopeMiddleware:
    """A live token without this server's scope gets 403 `insufficient_scope` (RFC 6750) naming the scope.

    Without it fastmcp answers 401 as for a garbage token, and clients such as the MCP Inspector then start an
    OAuth login that cannot succeed. The error is in the JSON body only, with no `WWW-Authenticate` challenge: the
    TypeScript SDK (so the Inspector) answers an `insufficient_scope` challenge with an OAuth upscoping flow, which
    fails on OAuth discovery and hides the text. Unknown and revoked tokens get 401 `invalid_token` saying to ask the
    operator for a token (fastmcp's text tells the client to re-register over OAuth, which these servers lack).
    """

    def __init__(self, app: ASGIApp, tokens: TokenStore, server: str) -> None:
        self.app, self.tokens, self.server = app, tokens, server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            auth = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
            if auth[:7].lower() == "bearer ":
                identity = await asyncio.to_thread(self.tokens.verify, auth[7:].strip())
                if identity is None:
                    await self._refuse(send, 401, "invalid_token", "this bearer token is unknown or revoked; ask the "
                                       f"operator for a token of the {self.server} server (`w2s-admin tokens mint "
                                       f"<agent> --server {self.server}`)")
                    return
                if not identity.allows(self.server):
                    await self._refuse(send, 403, "insufficient_scope", f"this token (agent {identity.agent}) lacks "
                                       f"the {self.server} scope; mint one with `w2s-admin tokens mint "
                                       f"{identity.agent} --server {self.server}`")
                    return
        await self.app(scope, receive, send)

    async def _refuse(self, send: Send, status: int, error: str, text: str) -> None:
        body = json.dumps({"error": error, "scope": self.server, "error_description": text}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if status == 401:  # a 401 must carry a challenge (RFC 9110); a 403 gets none (see the class docstring)
            challenge = f'Bearer error="{error}", error_description="{text}"'
            headers.append((b"www-authenticate", challenge.encode("latin-1", "replace")))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class CorsMiddleware:
    """CORS for browser MCP clients (the Inspector's direct mode) from the exact origins in `W2S_CORS_ORIGINS`.

    Outermost, so the 401/403/413 answers of the layers inside carry the headers too and a browser client can read
    them. A preflight carries no Authorization header, so it is answered here, before any token check; it grants
    nothing by itself: the request that follows still needs its token. No Allow-Credentials: tokens are bearer
    headers, never cookies. Starlette's CORSMiddleware answers a preflight 200 and a refused one 400 with a bare
    text, hence this one.
    """

    METHODS = b"GET, POST, DELETE, OPTIONS"
    HEADERS = b"Authorization, Content-Type, Accept, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID"
    EXPOSE = b"Mcp-Session-Id, WWW-Authenticate"

    def __init__(self, app: ASGIApp, origins: tuple[str, ...]) -> None:
        self.app, self.origins = app, frozenset(origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or []) if scope["type"] == "http" else {}
        origin = headers.get(b"origin", b"").decode("latin-1")
        if not origin:
            await self.app(scope, receive, send)
            return
        allowed = origin in self.origins  # entries are normalised as browsers send them: exact match is the check
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            await (self._preflight(origin, send) if allowed else self._refuse(origin, send))
            return
        if not allowed:  # no CORS headers: the browser keeps the answer from the page
            await self.app(scope, receive, send)
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = self._add(list(message.get("headers") or []), origin)
                message["headers"].append((b"access-control-expose-headers", self.EXPOSE))
            await send(message)

        await self.app(scope, receive, with_cors)

    @staticmethod
    def _add(headers: list[tuple[bytes, bytes]], origin: str) -> list[tuple[bytes, bytes]]:
        vary = [value for name, value in headers if name.lower() == b"vary"]
        headers = [(name, value) for name, value in headers if name.lower() != b"vary"]
        headers.append((b"vary", b", ".join([*vary, b"Origin"])))
        headers.append((b"access-control-allow-origin", origin.encode("latin-1")))
        return headers

    async def _preflight(self, origin: str, send: Send) -> None:
        headers = self._add([], origin) + [(b"access-control-allow-methods", self.METHODS),
                                           (b"access-control-allow-headers", self.HEADERS),
                                           (b"access-control-max-age", b"600")]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async def _refuse(self, origin: str, send: Send) -> None:
        body = (f"cross-origin requests from {origin[:200]!r} are not allowed here: the operator lists the browser "
                "origins allowed to call this server in W2S_CORS_ORIGINS (exact scheme://host[:port])").encode()
        await send({"type": "http.response.start", "status": 403,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode()), (b"vary", b"Origin")]})
        await send({"type": "http.response.body", "body": body})


class ServerApp(Generic[S]):
    """One MCP server: `name` is also its token scope and its database file name.

    `service` builds the server's service from the app (it needs `app.engine`, `app.tokens`, `app.identity`); it is
    called once, after the token checks, and its result is `app.service`. Without one, `app.service` is None.
    """

    name: str
    settings: ServerSettings
    tokens: TokenStore
    mcp: FastMCP
    service: S

    @overload
    def __init__(self: ServerApp[None], name: str, settings: ServerSettings | None = None,
                 instructions: str | None = None, local_token: str | None = None, *, service: None = None) -> None: ...

    @overload
    def __init__(self, name: str, settings: ServerSettings | None = None, instructions: str | None = None,
                 local_token: str | None = None, *, service: Callable[[ServerApp[S]], S]) -> None: ...

    def __init__(self, name: str, settings: ServerSettings | None = None, instructions: str | None = None,
                 local_token: str | None = None, *, service: Callable[[ServerApp[S]], S] | None = None) -> None:
        self.name = name
        self.settings = settings or ServerSettings()
        self.tokens = TokenStore(self.settings.tokens_db)
        self.mcp = FastMCP(name, instructions=instructions, auth=DbTokenVerifier(self.tokens, name),
                           middleware=[ArgumentErrors()])
        self._local_identity: Identity | None = None
        self._local_token: str | None = None
        token = local_token or (self.settings.token.get_secret_value() if self.settings.token else None)
        if token:
            self.set_local_token(token)
        self.mcp.custom_route("/health", methods=["GET"])(self._health)
        # Last: a bad local token is refused before the service opens anything or starts a thread.
        self.service = service(self) if service is not None else None  # type: ignore[assignment]

    def set_local_token(self, token: str) -> Identity:
        """Fix the identity used when there is no HTTP request (stdio, in-memory clients)."""
        identity = self.tokens.verify(token)
        if identity is None or not identity.allows(self.name):
            raise PermissionError(f"the token is unknown, revoked or not scoped for the {self.name} server")
        self._local_identity, self._local_token = identity, token
        return identity

    @property
    def local_identity(self) -> Identity | None:
        return self._local_identity

    @cached_property
    def engine(self) -> Engine:
        """This server's database (`<state_dir>/<name>.db`)."""
        return create_sqlite_engine(self.settings.db_path(self.name))

    def identity(self) -> Identity:
        """The caller, from the HTTP bearer token or the stdio token; never from a tool argument."""
        access = get_access_token()
        if access is not None:
            return identity_from_access_token(access)
        if self._local_identity is not None:
            # Checked on every call, as HTTP requests are: a token revoked while a stdio server runs stops working.
            current = self.tokens.verify(self._local_token or "")
            if current is None or not current.allows(self.name):
                raise tool_error(f"this server's token (W2S_TOKEN) was revoked or lost the {self.name} scope",
                                 "ask the operator for a new token and restart the server with it")
            return current
        raise tool_error("no caller identity", "connect over HTTP with 'Authorization: Bearer <token>' "
                         "or start the stdio server with W2S_TOKEN set")

    def require_admin(self) -> Identity:
        identity = self.identity()
        if not identity.is_admin:
            raise tool_error("this needs an operator (admin) token", "ask the operator")
        return identity

    async def _health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "server": self.name})

    def http_app(self, path: str = "/mcp") -> Any:
        """The Starlette app (MCP at `path`, `/health`, 413 above max_request_bytes, CORS for the origins in
        cors_origins) for uvicorn."""
        _one_body_limit(self.settings.max_request_bytes)
        limit = Middleware(BodyLimitMiddleware, max_bytes=self.settings.max_request_bytes)
        scoped = Middleware(ScopeMiddleware, tokens=self.tokens, server=self.name)
        app = self.mcp.http_app(path=path, middleware=[limit, scoped])
        if self.settings.cors_origins:
            # add_middleware puts it first, outside fastmcp's own layers and ours, so every refusal carries CORS.
            app.add_middleware(CorsMiddleware, origins=self.settings.cors_origins)
        return app


def _one_body_limit(max_bytes: int) -> None:
    """Make the MCP SDK's own body limit (4 MiB, which fastmcp does not expose) follow ours, so one documented
    limit applies and a body under it is never refused with a bare 413 from inside the SDK."""
    import fastmcp.server.http as fastmcp_http
    from mcp.server.transport_security import RequestBodyLimitMiddleware

    manager = fastmcp_http.FastMCPStreamableHTTPSessionManager
    if getattr(manager, "w2s_max_request_bytes", 0) >= max_bytes:
        return

    class _Manager(manager):  # type: ignore[misc, valid-type]
        w2s_max_request_bytes = max_bytes

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # The SDK wraps its handler at construction; wrap it again with our limit (a test guards this).
            self.max_request_body_size = self.w2s_max_request_bytes
            self.asgi_app = RequestBodyLimitMiddleware(self._handle_request, self.w2s_max_request_bytes)

    fastmcp_http.FastMCPStreamableHTTPSessionManager = _Manager  # type: ignore[misc]
