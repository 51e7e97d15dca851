"""Operator commands of the shared core (mounted in `w2s-admin`): `tokens` and `replica`."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mcp_servers.core._litestream import ConfigReplicator, LitestreamError, replica_exists, restore
from mcp_servers.core._replica import ID_GAP_AFTER_RESTORE, bump_sequences, row_counts
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
    launch: Annotated[str | None, typer.Option(help="the launch this token belongs to (revoked with it)")] = None,
) -> None:
    """Print a new token on stdout (shown once; only its sha256 is stored)."""
    scopes = tuple(server) if server else AGENT_SCOPES
    try:
        token = _store().mint(agent, scopes, admin=admin, label=label, launch=launch)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo(token)


@tokens_app.command("list")
def list_tokens(
    agent: Annotated[str | None, typer.Option(help="only this agent")] = None,
    all_: Annotated[bool, typer.Option("--all", help="include revoked tokens")] = False,
) -> None:
    """Token ids, agents, scopes and state (never the tokens)."""
    table = Table("id", "agent", "scopes", "label", "launch", "created", "revoked")
    for info in _store().list(agent, include_revoked=all_):
        table.add_row(str(info.id), escape(info.agent), " ".join(info.scopes), escape(info.label), info.launch or "",
                      info.created_at.isoformat(timespec="seconds"),
                      info.revoked_at.isoformat(timespec="seconds") if info.revoked_at else "")
    Console().print(table)


@tokens_app.command("revoke")
def revoke(
    token_id: Annotated[int | None, typer.Option("--id", help="token id from `list`")] = None,
    agent: Annotated[str | None, typer.Option(help="revoke every live token of this agent")] = None,
    launch: Annotated[str | None, typer.Option(help="revoke every live token minted for this launch")] = None,
) -> None:
    """Revoke by id, by agent or by launch; servers refuse the token from the next request on."""
    try:
        if launch is not None:
            if token_id is not None or agent is not None:
                raise ValueError("give one of --id, --agent or --launch")
            count = _store().revoke_launch(launch)
        else:
            count = _store().revoke(token_id=token_id, agent=agent)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    _console.print(f"revoked {count} token(s)")


DATABASES: tuple[str, ...] = ("grader", "findings", "snapshot", "tokens", "orchestrator")
"""The replicated databases of the trusted host, in restore order (the jobs db of train/predict is working state
and is not replicated)."""


def database_path(name: str, settings: ServerSettings | None = None) -> Path:
    settings = settings or _settings_for(name)
    return settings.tokens_db if name == "tokens" else settings.db_path(name)


@replica_app.command("restore")
def restore_cmd(
    server: Annotated[str | None, typer.Argument(help=f"database to restore: {', '.join(DATABASES)}")] = None,
    all_: Annotated[bool, typer.Option("--all", help="every database that has a replica (a fresh host)")] = False,
    out: Annotated[Path | None, typer.Option(help="output file (default: the server's db path, must not exist)")] = None,
    timestamp: Annotated[str | None, typer.Option(help="point in time, RFC 3339 (e.g. 2026-11-29T10:00:00Z)")] = None,
    txid: Annotated[str | None, typer.Option(help="restore up to this hex transaction id (inclusive)")] = None,
    id_gap: Annotated[int, typer.Option(min=0, help="how far every id sequence jumps (ids are never reused)")]
    = ID_GAP_AFTER_RESTORE,
) -> None:
    """Rebuild databases from their litestream replicas (latest state, or a point in time).

    The replica may lack the last second of acknowledged writes (litestream is asynchronous), so every id
    sequence moves `--id-gap` past its high-water mark: no id an agent already cited is handed out again."""
    if all_ == (server is not None):
        raise typer.BadParameter("name one database or give --all")
    if all_ and (out or txid):
        raise typer.BadParameter("--out and --txid name one database; with --all use --timestamp")
    names = list(DATABASES) if all_ else [server or ""]
    targets = {name: out or database_path(name) for name in names}
    present = [f"{path}" for path in targets.values() if path.exists()]
    if present:  # checked up front: a half-restored host is worse than none
        _console.print(f"[red]error:[/] {escape(', '.join(present))} exist(s); restore writes new files (move "
                       "them away first, or restore into an empty W2S_HOME)")
        raise typer.Exit(1)
    table = Table("database", "file", "tables", "rows")
    for name, target in targets.items():
        url = _settings_for(name).replica_for(name)
        if all_ and not replica_exists(url):
            table.add_row(name, "no replica: skipped", "", "")
            continue
        try:
            started = time.monotonic()
            restore(url, target, timestamp=timestamp, txid=txid)
        except LitestreamError as exc:
            _console.print(f"[red]error:[/] {escape(name)}: {escape(str(exc))}")
            raise typer.Exit(1) from None
        floors = bump_sequences(target, id_gap)
        counts = row_counts(target)
        table.add_row(name, escape(str(target)), str(len(counts)), str(sum(counts.values())))
        _console.print(f"restored {name} into {escape(str(target))} ({time.monotonic() - started:.1f}s)")
        stale = sorted(table_name for table_name, floor in floors.items() if floor < 0)
        if stale:
            _console.print(f"[yellow]warning:[/] {name}: tables made by an older version may reuse ids: "
                           f"{', '.join(stale)}")
    _console.print(table)


@replica_app.command("run")
def run_cmd(
    names: Annotated[list[str] | None, typer.Argument(help="databases (default: every one that exists)")] = None,
) -> None:
    """Replicate several databases with one litestream process until stopped (Ctrl-C or SIGTERM); start the
    servers with W2S_LITESTREAM=false then. The generated config (0600) sits in the state dir."""
    unknown = sorted(set(names or []) - set(DATABASES))
    if unknown:
        raise typer.BadParameter(f"unknown database(s) {', '.join(unknown)}; known: {', '.join(DATABASES)}")
    dbs = {database_path(n): _settings_for(n).replica_for(n) for n in names or DATABASES}
    missing = [str(db) for db in dbs if not db.exists()]
    if names and missing:
        raise typer.BadParameter(f"{', '.join(missing)} do(es) not exist yet; start its server first")
    dbs = {db: url for db, url in dbs.items() if db.exists()}
    if not dbs:
        _console.print("[red]error:[/] no database exists yet; start the servers first")
        raise typer.Exit(1)
    settings = ServerSettings()
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    with ConfigReplicator(dbs, settings.state_dir / "litestream.yml") as replicator:
        _console.print(f"replicating {', '.join(sorted(db.name for db in dbs))} (log: {replicator.log_file})")
        try:
            while replicator.process is not None and replicator.process.poll() is None:
                time.sleep(1.0)
        except KeyboardInterrupt:
            pass
    if replicator.process is not None and replicator.process.returncode not in (0, -signal.SIGTERM):
        _console.print(f"[red]error:[/] litestream exited with {replicator.process.returncode}; see its log")
        raise typer.Exit(1)


def _exit_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)  # unwinds through the replicator's context: it flushes, then stops


def _settings_for(server: str) -> ServerSettings:
    if server in ("train", "predict", "jobs"):
        from mcp_servers.jobs import ComputeSettings

        return ComputeSettings()
    return ServerSettings()


@replica_app.command("where")
def where(server: Annotated[str, typer.Argument(help="server name")]) -> None:
    """Print a database's path and replica URL (the URL names endpoints, never credentials)."""
    settings = _settings_for(server)
    typer.echo(f"{database_path(server, settings)}\t{settings.replica_for(server)}")
