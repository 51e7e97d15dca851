"""Operator commands of the shared core (mounted in `w2s-admin`): `tokens` and `replica`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mcp_servers.core._litestream import restore
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
) -> None:
    """Rebuild a server's database from its litestream replica."""
    settings = ServerSettings()
    target = out or settings.db_path(server)
    restore(settings.replica_for(server), target)
    _console.print(f"restored {server} into {target}")


@replica_app.command("where")
def where(server: Annotated[str, typer.Argument(help="server name")]) -> None:
    """Print a server's database path and replica URL."""
    settings = ServerSettings()
    typer.echo(f"{settings.db_path(server)}\t{settings.replica_for(server)}")
