"""`serve()`: the command line of every server, `python -m mcp_servers.<name> --transport stdio|http ...`."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

import uvicorn
from pydantic import ValidationError

from mcp_servers.core._app import ServerApp
from mcp_servers.core._litestream import LitestreamError, Replicator
from mcp_servers.core._replica import DatabaseStateError, check_startup
from mcp_servers.core._settings import ServerSettings

log = logging.getLogger(__name__)


def build_parser(name: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m mcp_servers.{name}", description=f"w2s-lab {name} MCP server")
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000)")
    parser.add_argument("--no-litestream", action="store_true", help="do not replicate the database")
    parser.add_argument("--fresh", action="store_true",
                        help="start even when the database is missing or empty while its replica holds data")
    parser.add_argument("--log-level", default="warning")
    return parser


def serve(build: Callable[[], ServerApp[Any]], argv: Sequence[str] | None = None, name: str | None = None,
          settings_type: Callable[[], ServerSettings] = ServerSettings) -> int:
    """Parse the command line, build the server, replicate its db and run it until stopped.

    `settings_type` is the server's settings class (it knows the server's database path before the server exists).
    """
    parser = build_parser(name or "server")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    try:
        settings = settings_type()
    except ValidationError as exc:  # a bad W2S_* setting (a CORS wildcard, a replica URL with keys): no traceback
        parser.exit(2, "".join(f"error: {'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}\n"
                               for e in exc.errors()))
    replicate = settings.litestream and not args.no_litestream
    try:
        # Before `build()`: building opens the database, and so creates a missing one.
        check_startup(settings.db_path(name or "server"), settings.replica_for(name or "server") if replicate
                      else None, fresh=args.fresh)
    except (DatabaseStateError, LitestreamError) as exc:
        parser.exit(2, f"error: {exc}\n")
    # uvicorn re-raises SIGTERM once it has shut down; with the default action the process would die right there,
    # before the replicator's final flush below (acknowledged writes were missing from the replica).
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        app = build()
    except PermissionError as exc:  # a bad W2S_TOKEN for stdio
        parser.exit(2, f"error: {exc}; set W2S_TOKEN to a token minted with `w2s-admin tokens mint`\n")
    if args.transport == "stdio" and app.local_identity is None:
        parser.exit(2, "error: stdio needs W2S_TOKEN (mint one with `w2s-admin tokens mint AGENT`)\n")
    db = app.settings.db_path(app.name)
    with app.engine.connect():  # create the db file before litestream watches it
        pass
    with contextlib.ExitStack() as stack:
        if replicate:
            try:
                stack.enter_context(Replicator(db, app.settings.replica_for(app.name)))
            except LitestreamError as exc:
                log.warning("not replicating: %s", exc)
        if args.transport == "stdio":
            app.mcp.run(transport="stdio", show_banner=False)
        else:
            config = uvicorn.Config(app.http_app(), host=args.host, port=args.port, log_level=args.log_level,
                                    timeout_graceful_shutdown=2)
            uvicorn.Server(config).run()
    return 0


def _exit_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)  # unwinds through the ExitStack: the replicator flushes, then stops
