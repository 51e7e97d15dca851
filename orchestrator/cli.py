"""`orchestrator`: run a team of sandboxed research agents, or the servers alone for people and other clients.

    orchestrator launch --n 9 [--agent claude|evolve] ...   servers, tokens, workspaces, one sandboxed agent each
    orchestrator status                                      the launch's table (or the servers of a `serve`)
    orchestrator stop [--agent A]                            graceful, then by force; revokes the launch's tokens
    orchestrator serve --agents alice,bob                    only the five servers, a token and .mcp.json per agent
    orchestrator shell AGENT                                 a sandboxed shell in AGENT's workspace (run claude there)
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from mcp_servers.core import ServerSettings, TokenStore
from orchestrator import _workspace as ws
from orchestrator._agents import MCP_CONFIG, prepare_agent
from orchestrator._db import LIVE_STATES, StateDB
from orchestrator._launch import Launch, install_signal_handlers
from orchestrator._options import LaunchError, LaunchOptions, check_options
from orchestrator._services import (
    ServerSupervisor,
    Service,
    compute_env,
    load_record,
    pid_is,
    plan,
    save_record,
    start_services,
    start_tokens_replica,
    stop_services,
)
from orchestrator._view import agents_table, leaderboard
from trainer import paths

app = typer.Typer(help="Run the w2s-lab MCP servers and the agents that use them.", no_args_is_help=True)
console = Console(width=None if sys.stdout.isatty() else 160)


def _servers_table(services: list[Service]) -> Table:
    table = Table("server", "url", "pid", "restarts", "health")
    for service in services:
        ok = service.healthy()
        table.add_row(service.name, service.url, str(service.pid or "-"), str(service.restarts),
                      "[green]ok[/]" if ok else "[red]down[/]")
    return table


@app.command()
def serve(
    agents: Annotated[str, typer.Option(help="comma-separated agent names, one token and workspace each")] = "agent1",
    base_port: Annotated[int, typer.Option(help="grader at this port, then findings, snapshot, train, predict")] = 8101,
    host: Annotated[str, typer.Option(help="bind address; keep loopback unless agents run elsewhere")] = "127.0.0.1",
    sync_interval: Annotated[float, typer.Option(help="seconds between findings syncs into workspaces")] = 1.0,
    compute: Annotated[str, typer.Option(help="where jobs run: local, ray, ray:HOST:PORT (a Ray head) or "
                                              "ray://HOST:PORT; see docs/scale-out.md")] = "local",
) -> None:
    """Start the five servers until Ctrl-C, mint a token per agent (revoked at stop) and write its `.mcp.json`;
    `orchestrator shell AGENT` then opens a sandboxed shell there to run Claude Code in."""
    from mcp_servers.findings import FindingsSyncer

    names = [a.strip() for a in agents.split(",") if a.strip()]
    if not names:
        raise typer.BadParameter("give at least one agent name")
    try:
        os.environ.update(compute_env(compute))  # the train and predict servers read it at start
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    services = plan(base_port)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    store = TokenStore(ServerSettings().tokens_db)  # create the shared tokens db once, before five servers open it
    run_id = f"serve-{os.getpid()}-{int(time.time())}"
    log_dir = paths().state_dir / "logs"
    try:
        procs = start_services(services, host, log_dir)
    except (RuntimeError, TimeoutError) as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from None
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    syncer, workspaces = None, {}
    replica = start_tokens_replica(lambda text: console.print(f"[yellow]{escape(text)}[/]"))
    supervisor = ServerSupervisor(services, procs, host, log_dir, lambda text: console.print(escape(text)),
                                  on_restart=lambda: save_record(services, workspaces))
    try:
        local = host if host != "0.0.0.0" else "127.0.0.1"
        workspaces = {name: prepare_agent(name, services, store, run_id, local) for name in names}
        save_record(services, workspaces)
        syncer = FindingsSyncer(workspaces.values(), interval=sync_interval).start()
        console.print(_servers_table(services))
        for name, workspace in workspaces.items():
            console.print(f"agent [bold]{escape(name)}[/]: orchestrator shell {escape(name)}   "
                          f"(MCP config: {workspace / MCP_CONFIG})")
        console.print("Ctrl-C stops every server.")
        while not stopped.wait(1.0):  # a server that dies is restarted with backoff and counted in `status`
            supervisor.check(time.time())
    except KeyboardInterrupt:
        pass
    finally:
        if syncer is not None:
            syncer.stop()
        stop_services(services)
        revoked = ws.revoke_launch(store, run_id)
        if replica is not None:
            replica.stop()
        console.print(f"stopped; revoked {revoked} token(s)")


def _default_agent(agent: str | None) -> str:
    if agent:
        return agent
    if os.environ.get("ANTHROPIC_API_KEY"):
        console.print("agent: [bold]claude[/] (ANTHROPIC_API_KEY is set)")
        return "claude"
    console.print("agent: [bold]evolve[/] (the offline agent: no ANTHROPIC_API_KEY)")
    return "evolve"


@app.command()
def launch(
    n: Annotated[int, typer.Option("--n", help="number of agents (9 is the reference team)")] = 9,
    agent: Annotated[str | None, typer.Option(help="claude | evolve (default: claude with ANTHROPIC_API_KEY, "
                                                   "else evolve)")] = None,
    dataset: Annotated[str, typer.Option(help="public dataset the agents work on")] = "sentiment",
    minutes: Annotated[float | None, typer.Option(help="run this long, then stop everything")] = None,
    hours: Annotated[float | None, typer.Option(help="run this long (added to --minutes)")] = None,
    budget_usd: Annotated[float | None, typer.Option(help="model API budget per agent (claude)")] = None,
    model: Annotated[str | None, typer.Option(help="Claude model id (default: the CLI's)")] = None,
    max_turns: Annotated[int | None, typer.Option(help="turns per Claude session")] = None,
    sandbox: Annotated[str, typer.Option(help="auto | bwrap | docker | docker://ssh://USER@HOST | docker://HOST:2376 "
                                              "| k8s | k8s://CONTEXT/NAMESPACE (see docs/scale-out.md)")] = "auto",
    unsafe_no_sandbox: Annotated[bool, typer.Option(help="allow --sandbox none (agents can read labels)")] = False,
    public_url: Annotated[str | None, typer.Option(help="the TLS reverse proxy agents on remote sandboxes reach the "
                                                        "servers through (https://NAME; default W2S_PUBLIC_URL)")] = None,
    directions: Annotated[Path | None, typer.Option(help="YAML list of {name, text} (default prompts/)")] = None,
    base_port: Annotated[int, typer.Option(help="first of the five server ports")] = 8101,
    max_restarts: Annotated[int, typer.Option(help="restarts of a crashed agent before it stays failed")] = 5,
    seed: Annotated[int, typer.Option(help="seed of the first evolve agent (the others count up)")] = 0,
    agent_args: Annotated[str, typer.Option(help="extra arguments for the evolve agent, e.g. '--population 2'")] = "",
    compute: Annotated[str, typer.Option(help="where jobs run: local, ray, ray:HOST:PORT (a Ray head) or "
                                              "ray://HOST:PORT; see docs/scale-out.md")] = "local",
    follow: Annotated[bool, typer.Option(help="stay in the foreground with the live view until the end")] = False,
    supervise: Annotated[bool, typer.Option(hidden=True, help="run as the detached supervisor")] = False,
) -> None:
    """Start the servers (or join a running `serve`), then N agents, each in its own sandbox with its own token,
    workspace and research direction. Without --follow the supervisor keeps running in the background:
    `orchestrator status` shows it, `orchestrator stop` ends it."""
    kind = _default_agent(agent)
    duration = ((minutes or 0) + (hours or 0) * 60) * 60 or None
    opts = LaunchOptions(n=n, kind=kind, dataset=dataset, duration_s=duration, budget_usd=budget_usd, model=model,
                         sandbox=sandbox, unsafe_no_sandbox=unsafe_no_sandbox, directions_file=directions,
                         base_port=base_port, max_restarts=max_restarts, max_turns=max_turns, seed=seed,
                         agent_args=shlex.split(agent_args), compute=compute)
    if public_url is not None:
        opts.public_url = public_url
    try:
        check_options(opts)
        running = StateDB().launch()
        if not supervise and running is not None and running.state in ("starting", "running") and pid_is(
                running.pid, "orchestrator", "launch"):
            raise LaunchError(f"launch {running.id} is still running (pid {running.pid}); `orchestrator stop` first")
        if directions is not None:
            import prompts

            prompts.load_directions(directions)
    except (LaunchError, ValueError) as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    if not follow and not supervise:
        _detach()
        return
    _run_launch(opts, live=follow and not supervise)


def _detach() -> None:
    """Re-run this launch as a background supervisor, wait until its agents run, print the table."""
    log_dir = paths().state_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    db = StateDB()
    before = db.launch()
    argv = [sys.executable, "-m", "orchestrator.cli", *sys.argv[1:], "--supervise"]
    with (log_dir / "launch.log").open("ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        row = db.launch()
        if row is not None and (before is None or row.id != before.id) and row.pid == proc.pid:
            agents = db.agents(row.id)
            if row.state != "starting" and agents and all(a.state != "starting" for a in agents):
                console.print(agents_table(db, row))
                console.print(f"supervisor pid {proc.pid}; `orchestrator status`, `orchestrator stop`; "
                              f"log {log_dir / 'launch.log'}")
                return
        if proc.poll() is not None:
            console.print(f"[red]error:[/] the launch exited ({proc.returncode}); see {log_dir / 'launch.log'}")
            raise typer.Exit(1)
        time.sleep(0.3)
    console.print("[yellow]the launch is still starting[/]; `orchestrator status` shows it")


def _run_launch(opts: LaunchOptions, live: bool) -> None:
    run = Launch(opts)
    install_signal_handlers(run)
    state = "done"
    try:
        run.start()
        if live:
            with Live(console=console, refresh_per_second=1) as view:
                def refresh() -> None:
                    row = run.db.launch(run.launch_id)
                    if row is not None:
                        view.update(Group(agents_table(run.db, row), "\n".join(escape(x) for x in list(run.log)[-5:])))
                run.run(refresh)
        else:
            printed = 0

            def log_lines() -> None:
                nonlocal printed
                lines = list(run.log)
                for line in lines[printed:] if printed <= len(lines) else lines:
                    print(line, flush=True)
                printed = len(lines)
            run.run(log_lines)
        state = "stopped" if run.stopping.is_set() else "done"
    except Exception as exc:  # noqa: BLE001 - whatever broke, the finally below still stops everything
        console.print(f"[red]launch failed:[/] {escape(str(exc))}")
        state = "failed"
        raise typer.Exit(1) from None
    finally:
        run.shutdown(state)
        row = run.db.launch(run.launch_id)
        if row is not None:
            table, best = leaderboard(run.db, row)
            console.print(agents_table(run.db, row))
            console.print(table)
            console.print(best)


@app.command()
def status() -> None:
    """The newest launch's agents (or, with a plain `serve`, its servers)."""
    db = StateDB()
    row = db.launch()
    record = load_record()
    if row is None and record is None:
        console.print("nothing launched; start with `orchestrator launch` or `orchestrator serve`")
        raise typer.Exit(1)
    if row is not None:
        alive = pid_is(row.pid, "orchestrator", "launch")
        if row.state in ("starting", "running") and not alive:
            console.print(f"[red]the supervisor of {escape(row.id)} (pid {row.pid}) is gone[/]; "
                          "`orchestrator stop` cleans up")
        console.print(agents_table(db, row))
    if record is not None:
        services = [Service(**s) for s in record["services"]]
        console.print(_servers_table(services))


def _wait_gone(pid: int, words: tuple[str, ...], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while pid_is(pid, *words):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


AGENT_WORDS = ("bwrap", "orchestrator.agents")


@app.command()
def stop(
    agent: Annotated[str | None, typer.Option(help="stop only this agent (the launch goes on)")] = None,
    grace: Annotated[float, typer.Option(help="seconds to wait for a graceful stop before killing")] = 60.0,
) -> None:
    """Stop the running launch (or one of its agents), gracefully then by force; or the servers of a `serve`."""
    db = StateDB()
    row = db.launch()
    if row is not None and row.state in ("starting", "running"):
        if agent:
            target = db.agent(agent)
            if target is None or target.launch_id != row.id:
                console.print(f"[red]error:[/] no agent {escape(agent)} in launch {escape(row.id)}")
                raise typer.Exit(2)
            db.update_agent(agent, state="stopped", exit_reason="stopped by the operator")
            if target.pid and not _wait_gone(target.pid, AGENT_WORDS, grace) and pid_is(target.pid, *AGENT_WORDS):
                os.kill(target.pid, signal.SIGKILL)
            console.print(f"stopped {escape(agent)}")
            return
        if pid_is(row.pid, "orchestrator", "launch"):
            os.kill(row.pid, signal.SIGTERM)
            if not _wait_gone(row.pid, ("orchestrator", "launch"), grace):
                os.kill(row.pid, signal.SIGKILL)
                _wait_gone(row.pid, ("orchestrator", "launch"), 10)
        _cleanup(db, row.id)
        console.print(f"stopped launch {escape(row.id)}")
        return
    record = load_record()
    if record is None or record.get("launch"):
        console.print("nothing to stop")
        return
    if pid_is(record["pid"], "orchestrator", "serve"):
        os.kill(record["pid"], signal.SIGTERM)
        _wait_gone(record["pid"], ("orchestrator", "serve"), grace)
    else:
        stop_services([Service(**s) for s in record["services"] if pid_is(s.get("pid"), "mcp_servers")])
    console.print("stop requested")


def _cleanup(db: StateDB, launch_id: str) -> None:
    """After the supervisor is gone (however it ended): no agent or server of the launch left, tokens revoked."""
    for row in db.agents(launch_id):
        if row.pid and pid_is(row.pid, *AGENT_WORDS):
            os.kill(row.pid, signal.SIGKILL)
        if row.state in LIVE_STATES:
            db.update_agent(row.name, state="stopped", ended_at=time.time(), exit_reason="stopped by the operator")
    record = load_record()
    if record is not None and record.get("launch") == launch_id:
        for service in record["services"]:
            if pid_is(service.get("pid"), "mcp_servers." + service["name"]):
                os.kill(service["pid"], signal.SIGKILL)
    ws.revoke_launch(TokenStore(ServerSettings().tokens_db), launch_id)
    launch_row = db.launch(launch_id)
    if launch_row is not None and launch_row.ended_at is None:
        db.end_launch(launch_id, "stopped")


@app.command()
def shell(agent: Annotated[str, typer.Argument(help="the agent whose workspace to open")]) -> None:
    """A sandboxed shell in AGENT's workspace with its `.mcp.json`; `claude` there is Claude Code inside the
    sandbox (its model API through a host proxy when ANTHROPIC_API_KEY is set)."""
    from orchestrator._shell import run_shell

    try:
        code = run_shell(agent)
    except (RuntimeError, ValueError) as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    raise typer.Exit(code)


def _register_dashboard() -> None:
    """`orchestrator dashboard` and `orchestrator report` (H-dash's package registers them)."""
    try:
        from orchestrator.dashboard import register
    except ImportError:  # a checkout without the dashboard still runs agents
        return
    register(app)


_register_dashboard()

if __name__ == "__main__":
    app()
