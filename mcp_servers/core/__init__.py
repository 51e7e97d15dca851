"""The shared core of every w2s-lab MCP server: settings, SQLite, tokens and auth, errors, transports, replicas.

A server is a thin module on top of this: `build_server` answers a `ServerApp[S]` whose `.service` is the library
object its tools call (typed, built once from the app's engine and tokens):

    def build_server(settings: MySettings | None = None, local_token: str | None = None) -> ServerApp[MyService]:
        settings = settings or MySettings()
        app = ServerApp("findings", settings, instructions="...", local_token=local_token,
                        service=lambda server: MyService(settings, server.engine))

        @app.mcp.tool(annotations=READ_ONLY)
        def whoami() -> WhoAmI:
            return WhoAmI(agent=app.identity().agent, posts=app.service.count(app.identity()))

        return app

    if __name__ == "__main__":
        raise SystemExit(serve(build_server, name="findings"))

Importing this package turns fastmcp's banner and update check off (they call out otherwise).
"""

import os

os.environ.setdefault("FASTMCP_SHOW_SERVER_BANNER", "false")
os.environ.setdefault("FASTMCP_CHECK_FOR_UPDATES", "off")

import fastmcp

fastmcp.settings.show_server_banner = False
fastmcp.settings.check_for_updates = "off"  # type: ignore[assignment]

from mcp_servers.core._app import BodyLimitMiddleware, ServerApp
from mcp_servers.core._auth import DbTokenVerifier
from mcp_servers.core._beneath import BeneathError, open_beneath, read_beneath_bytes, read_beneath_text
from mcp_servers.core._db import (
    BUSY_TIMEOUT_MS,
    create_sqlite_engine,
    init_tables,
    read_session,
    write_session,
)
from mcp_servers.core._errors import READ_ONLY, WRITES, RefusedError, ToolError, refusals, tool_error
from mcp_servers.core._files import replace_at, workspace_of
from mcp_servers.core._idempotency import (
    IDEMPOTENCY_KEY,
    IdempotencyKeyArg,
    IdempotencyKeys,
    IdempotencyRecord,
    request_sha256,
)
from mcp_servers.core._litestream import LitestreamError, Replicator, litestream_binary, restore
from mcp_servers.core._serve import build_parser, serve
from mcp_servers.core._settings import CONFIG_ENV, ServerSettings
from mcp_servers.core._tokens import (
    ADMIN_SCOPE,
    AGENT_SCOPES,
    TOKEN_RE,
    Identity,
    TokenInfo,
    TokenStore,
    hash_token,
)

__all__ = [
    "ADMIN_SCOPE",
    "AGENT_SCOPES",
    "BUSY_TIMEOUT_MS",
    "CONFIG_ENV",
    "IDEMPOTENCY_KEY",
    "READ_ONLY",
    "TOKEN_RE",
    "WRITES",
    "BeneathError",
    "BodyLimitMiddleware",
    "DbTokenVerifier",
    "IdempotencyKeyArg",
    "IdempotencyKeys",
    "IdempotencyRecord",
    "Identity",
    "LitestreamError",
    "RefusedError",
    "Replicator",
    "ServerApp",
    "ServerSettings",
    "TokenInfo",
    "TokenStore",
    "ToolError",
    "build_parser",
    "create_sqlite_engine",
    "hash_token",
    "init_tables",
    "litestream_binary",
    "open_beneath",
    "read_beneath_bytes",
    "read_beneath_text",
    "read_session",
    "refusals",
    "replace_at",
    "request_sha256",
    "restore",
    "serve",
    "tool_error",
    "workspace_of",
    "write_session",
]
