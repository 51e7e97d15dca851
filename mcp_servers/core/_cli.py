"""Operator commands of the shared core (mounted in `w2s-admin`): `tokens` and `replica`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mcp_servers.core._litestream import LitestreamError, restore
from mcp_servers.core._replica import ID_GAP_AFTER_RESTORE, bump_sequences
from mcp_servers.core._settings import ServerSettings
from mcp_servers.core._tokens import AGENT_SCOPES, TokenStore

tokens_app = typer.Typer(help="Mint, list and revoke per-agent bearer tokens (stored hashed).", no_args_is_help=True)
replica_app = typer.Typer(help="Litestream replicas of the server databases.", no_args_is_help=True)
_console = Console(stderr=True)


def _store() -> TokenStore:
    return TokenStore(ServerSettings().tokens_db)


@tokens_app.command("mint")
def mint(
    agent: Annotated[str, typer.Argument(help="agent name, e.g. agent-03")],
    server: Annotated[list[str] | None, typer.Option("--server", "-s", help="scope; repeat (default: all)")] = None,
    admin: Annotated[bool, typer.Option(help="operator token with the admin scope (never give it to an agent)")] = False,
    label: Annotated[str, typer.Option(help="free note shown by `list`")] = "",
) -> None:
    """Print a new token on stdout (shown once; only its sha256 is stored)."""
    scopes = tuple(server) if server else AGENT_SCOPES
    try:
        token = _store().mint(agent, scopes, admin=admin, label=label)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo(token)


@tokens_app.command("list")
def list_tokens(
    agent: Annotated[str | None, typer.Option(help="only this agent")] = None,
    all_: Annotated[bool, typer.Option("--all", help="include revoked tokens")] = False,
) -> None:
    """Token ids, agents, scopes and state (never the tokens)."""
    table = Table("id", "agent", "scopes", "label", "created", "revoked")
    for info in _store().list(agent, include_revoked=all_):
        table.add_row(str(info.id), info.agent, " ".join(info.scopes), info.label,
                      info.created_at.isoformat(timespec="seconds"),
                      info.revoked_at.isoformat(timespec="seconds") if info.revoked_at else "")
    Console().print(table)


@tokens_app.command("revoke")
def revoke(
    token_id: Annotated[int | None, typer.Option("--id", help="token id from `list`")] = None,
    agent: Annotated[str | None, typer.Option(help="revoke every live token of this agent")] = None,
) -> None:
    """Revoke by id or by agent; servers refuse the token from the next request on."""
    try:
        count = _store().revoke(token_id=token_id, agent=agent)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    _console.print(f"revoked {count} token(s)")


@replica_app.command("restore")
def restore_cmd(
    server: Annotated[str, typer.Argument(help="server whose database to restore, e.g. grader")],
    out: Annotated[Path | None, typer.Option(help="output file (default: the server's db path, must not exist)")] = None,
    timestamp: Annotated[str | None, typer.Option(help="point in time, RFC 3339 (e.g. 2026-11-29T10:00:00Z)")] = None,
    txid: Annotated[str | None, typer.Option(help="restore up to this hex transaction id (inclusive)")] = None,
    id_gap: Annotated[int, typer.Option(min=0, help="how far every id sequence jumps (ids are never reused)")]
    = ID_GAP_AFTER_RESTORE,
) -> None:
    """Rebuild a server's database from its litestream replica (latest state, or a point in time).

    The replica may lack the last second of acknowledged writes (litestream is asynchronous), so every id
    sequence moves `--id-gap` past its high-water mark: no id an agent already cited is handed out again."""
    settings = _settings_for(server)
    target = out or settings.db_path(server)
    try:
        restore(settings.replica_for(server), target, timestamp=timestamp, txid=txid)
    except LitestreamError as exc:
        _console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from None
    floors = bump_sequences(target, id_gap)
    _console.print(f"restored {server} into {target}")
    stale = sorted(name for name, floor in floors.items() if floor < 0)
    if stale:
        _console.print(f"[yellow]warning:[/] tables made by an older version may reuse ids: {', '.join(stale)}")


def _settings_for(server: str) -> ServerSettings:
    if server in ("train", "predict", "jobs"):
        from mcp_servers.jobs._settings import ComputeSettings

        return ComputeSettings()
    return ServerSettings()


@replica_app.command("where")
def where(server: Annotated[str, typer.Argument(help="server name")]) -> None:
    """Print a server's database path and replica URL."""
    settings = _settings_for(server)
    typer.echo(f"{settings.db_path(server)}\t{settings.replica_for(server)}")
