"""The shared core of every w2s-lab MCP server: settings, SQLite, tokens and auth, errors, transports, replicas.

A server is a thin module on top of this:

    app = ServerApp("findings", MySettings(), instructions="...")
    init_tables(app.engine, MyRow)

    @app.mcp.tool(annotations={"readOnlyHint": True})
    def whoami() -> WhoAmI:
        return WhoAmI(agent=app.identity().agent)

    if __name__ == "__main__":
        raise SystemExit(serve(lambda: app, name="findings"))

Importing this package turns fastmcp's banner and update check off (they call out otherwise).
"""

import os

os.environ.setdefault("FASTMCP_SHOW_SERVER_BANNER", "false")
os.environ.setdefault("FASTMCP_CHECK_FOR_UPDATES", "off")

import fastmcp  # noqa: E402

fastmcp.settings.show_server_banner = False
fastmcp.settings.check_for_updates = "off"  # type: ignore[assignment]

from mcp_servers.core._app import BodyLimitMiddleware, ServerApp  # noqa: E402
from mcp_servers.core._auth import DbTokenVerifier  # noqa: E402
from mcp_servers.core._db import (  # noqa: E402
    BUSY_TIMEOUT_MS,
    create_sqlite_engine,
    init_tables,
    read_session,
    write_session,
)
from mcp_servers.core._errors import READ_ONLY, WRITES, RefusedError, ToolError, refusals, tool_error  # noqa: E402
from mcp_servers.core._files import replace_at, workspace_of  # noqa: E402
from mcp_servers.core._litestream import LitestreamError, Replicator, litestream_binary, restore  # noqa: E402
from mcp_servers.core._serve import build_parser, serve  # noqa: E402
from mcp_servers.core._settings import CONFIG_ENV, ServerSettings  # noqa: E402
from mcp_servers.core._tokens import (  # noqa: E402
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
    "READ_ONLY",
    "WRITES",
    "RefusedError",
    "TOKEN_RE",
    "refusals",
    "CONFIG_ENV",
    "BodyLimitMiddleware",
    "DbTokenVerifier",
    "Identity",
    "LitestreamError",
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
    "read_session",
    "restore",
    "serve",
    "tool_error",
    "replace_at",
    "workspace_of",
    "write_session",
]
