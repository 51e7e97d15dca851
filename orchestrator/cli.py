"""`orchestrator`: run the w2s-lab servers for agents and people (Claude Code, the MCP Inspector).

    orchestrator serve --agents alice,bob     start all five servers, mint tokens, write each agent's .mcp.json
    orchestrator status                        which servers answer
    orchestrator stop                          stop the servers a `serve` started
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mcp_servers.core import ServerSettings, TokenStore
from orchestrator._agents import MCP_CONFIG, prepare_agent
from orchestrator._services import Service, load_record, plan, save_record, start_services, stop_services
from trainer import paths

app = typer.Typer(help="Run the w2s-lab MCP servers and the agents that use them.", no_args_is_help=True)
console = Console()


def _table(services: list[Service]) -> Table:
    table = Table("server", "url", "pid", "health")
    for service in services:
        ok = service.healthy()
        table.add_row(service.name, service.url, str(service.pid or "-"), "[green]ok[/]" if ok else "[red]down[/]")
    return table


@app.command()
def serve(
    agents: Annotated[str, typer.Option(help="comma-separated agent names, one token and workspace each")] = "agent1",
    base_port: Annotated[int, typer.Option(help="grader at this port, then findings, snapshot, train, predict")] = 8101,
    host: Annotated[str, typer.Option(help="bind address; keep loopback unless agents run elsewhere")] = "127.0.0.1",
    sync_interval: Annotated[float, typer.Option(help="seconds between findings syncs into workspaces")] = 1.0,
) -> None:
    """Start the grader, findings, snapshot, train and predict servers until Ctrl-C; mint a token per agent and
    write `<workspace>/.mcp.json` so Claude Code run in that workspace connects with the agent's identity."""
    from mcp_servers.findings import FindingsSyncer

    names = [a.strip() for a in agents.split(",") if a.strip()]
    if not names:
        raise typer.BadParameter("give at least one agent name")
    services = plan(base_port)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    TokenStore(ServerSettings().tokens_db)  # create the shared tokens db once, before five servers open it
    try:
        start_services(services, host, paths().state_dir / "logs")
    except (RuntimeError, TimeoutError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    workspaces = {name: prepare_agent(name, services, host if host != "0.0.0.0" else "127.0.0.1") for name in names}
    save_record(services, workspaces)
    syncer = FindingsSyncer(workspaces.values(), interval=sync_interval).start()
    console.print(_table(services))
    for name, workspace in workspaces.items():
        console.print(f"agent [bold]{name}[/]: cd {workspace} && claude   (MCP config: {workspace / MCP_CONFIG})")
    console.print("Ctrl-C stops every server.")
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        syncer.stop()
        stop_services(services)
        console.print("stopped")


@app.command()
def status() -> None:
    """Health of the servers the last `orchestrator serve` started."""
    record = load_record()
    if record is None:
        console.print("no servers recorded; start them with `orchestrator serve`")
        raise typer.Exit(1)
    services = [Service(**s) for s in record["services"]]
    console.print(_table(services))
    if not all(s.healthy() for s in services):
        raise typer.Exit(1)


@app.command()
def stop() -> None:
    """Stop the servers (and the `serve` process) the last `orchestrator serve` started."""
    record = load_record()
    if record is None:
        console.print("nothing to stop")
        return
    try:
        os.kill(record["pid"], signal.SIGTERM)
    except ProcessLookupError:
        stop_services([Service(**s) for s in record["services"]])
    console.print("stop requested")


if __name__ == "__main__":
    app()
