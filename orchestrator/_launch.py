"""`orchestrator launch`: servers, tokens, workspaces, proxies and one sandboxed agent per direction, supervised.

The launch process is a small supervisor: it reaps its children, restarts a crashed server or agent with backoff
(agents up to a limit), keeps `shared_findings/` synced, records every agent, session and exit reason in the
orchestrator database, and at the end (deadline, SIGTERM from `orchestrator stop`, Ctrl-C) stops every agent
gracefully then by force, stops what it started and revokes the launch's tokens.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections import deque
from pathlib import Path

import prompts
from mcp_servers.core import Replicator, ServerSettings, TokenStore
from orchestrator import _workspace as ws
from orchestrator._agent_proc import AgentProc, SessionResult
from orchestrator._db import AgentRow, LaunchRow, StateDB
from orchestrator._options import (
    LaunchOptions,
    agent_code_dirs,
    agent_names,
    new_launch_id,
)
from orchestrator._proxy import ModelProxy
from orchestrator._remote import public_urls, remote_sandbox, sandbox_location
from orchestrator._services import (
    ServerSupervisor,
    Service,
    compute_env,
    plan,
    running_serve,
    save_record,
    start_services,
    start_tokens_replica,
    stop_services,
)
from sandbox import INSIDE_DATA, INSIDE_WORKSPACE, Backend, ResourceLimits, SandboxSpec, get_backend
from trainer import paths

EXIT_MCP = 3
SESSION_PAUSE_S = 5.0
"""Pause before a Claude agent's next session when the last one ended normally (no tight loops)."""


class Launch:
    def __init__(self, opts: LaunchOptions, log: deque[str] | None = None) -> None:
        self.opts, self.launch_id = opts, new_launch_id()
        self.db = StateDB()
        self.log: deque[str] = log if log is not None else deque(maxlen=200)
        self.stopping = threading.Event()
        self.started_at = time.time()
        self.deadline = self.started_at + opts.duration_s if opts.duration_s else None
        self.services: list[Service] = []
        self.server_procs: dict[str, subprocess.Popen[bytes]] = {}
        self._supervisor: ServerSupervisor | None = None
        self.agents: dict[str, AgentProc] = {}
        self.proxies: dict[str, ModelProxy] = {}
        self._due: dict[str, float] = {}
        self.backend: Backend | None = None
        self.tokens = TokenStore(ServerSettings().tokens_db)
        self._syncer = None
        self.directions: dict[str, prompts.Direction] = {}
        self._replicator: Replicator | None = None
        self._tokens_replicator: Replicator | None = None
        self._urls: dict[str, dict[str, str]] = {}
        """Each agent's server URLs: this host's loopback ones, or the public proxy's for a remote sandbox."""

    def note(self, text: str) -> None:
        self.log.append(time.strftime("%H:%M:%S ") + text)

    # ---- start
    def start(self) -> None:
        opts = self.opts
        self.backend = get_backend(opts.sandbox, allow_none=opts.unsafe_no_sandbox) if opts.sandbox != "none" \
            else get_backend("none")
        if not self.backend.isolates_labels:
            self.note("WARNING: agents run without a sandbox (--unsafe-no-sandbox)")
        if self.deadline is not None and hasattr(self.backend, "deadline"):
            self.backend.deadline = self.deadline  # a cluster ends the launch's pods even if this host is gone
        self.db.add_launch(LaunchRow(id=self.launch_id, started_at=self.started_at, n_agents=opts.n,
                                     agent_kind=opts.kind, dataset=opts.dataset, deadline=self.deadline,
                                     pid=os.getpid(), state="starting"))
        self._start_replica()
        joined = running_serve()
        if joined:
            self.services = joined
            self.note("joined the servers of a running `orchestrator serve` (its --compute applies)")
        else:
            self.services = plan(opts.base_port)
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            log_dir = paths().state_dir / "logs"
            os.environ.update(compute_env(opts.compute))  # the train and predict servers read it at start
            self.server_procs = start_services(self.services, opts.host, log_dir)
            self._supervisor = ServerSupervisor(
                self.services, self.server_procs, opts.host, log_dir, self.note,
                on_restart=lambda: save_record(self.services, {n: p.spec.workspace for n, p in self.agents.items()},
                                               self.launch_id))
            self._start_tokens_replica()
            self.note(f"servers up on ports {opts.base_port}-{opts.base_port + len(self.services) - 1}")
        directions = prompts.load_directions(opts.directions_file)
        self.directions = {d.name: d for d in directions}
        from mcp_servers.findings import FindingsSyncer

        workspaces: dict[str, Path] = {}
        for index, name in enumerate(agent_names(opts.kind, opts.n)):
            direction = directions[index % len(directions)]
            workspaces[name] = self._prepare_agent(index, name, direction)
        if self.server_procs:  # a joined `serve` keeps its own record (its `stop` and `shell` use it)
            save_record(self.services, workspaces, self.launch_id)
        self._syncer = FindingsSyncer(workspaces.values(), interval=1.0).start()
        with self.db.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE launch SET state='running' WHERE id=?", (self.launch_id,))
        for proc in self.agents.values():
            self._start_agent(proc)

    def _start_replica(self) -> None:
        settings = ServerSettings()
        if not settings.litestream:
            return
        try:
            self._replicator = Replicator(self.db.path, settings.replica_for("orchestrator")).start()
        except Exception as exc:  # noqa: BLE001 - replication is a safety net; a launch without it still runs, and says so
            self.note(f"litestream not running for orchestrator.db: {exc}")

    def _start_tokens_replica(self) -> None:
        """The tokens db has no server of its own: whoever starts the servers replicates it (a joined `serve` does)."""
        self._tokens_replicator = start_tokens_replica(self.note)

    def _prepare_agent(self, index: int, name: str, direction: prompts.Direction) -> Path:
        opts = self.opts
        workspace = ws.prepare(name)
        ws.ensure_notebook(workspace, name, direction.text)
        token = ws.mint_token(self.tokens, name, self.launch_id)
        urls = {s.name: s.url for s in self.services}
        remote = self.backend is not None and remote_sandbox(self.backend)
        public = (opts.public_url or "").rstrip("/")
        if remote:
            urls = public_urls(public, [s.name for s in self.services])
        self._urls[name] = urls
        ws.write_mcp_config(workspace, urls, token)
        p = paths()
        extra_env = {"TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1", "W2S_LAUNCH_ID": self.launch_id,
                     "W2S_DIRECTION": direction.name}
        egress: list[str] = []
        api_key: str | None = None
        stdin: bytes | None = None
        if opts.kind == "claude":
            proxy = ModelProxy(self.db, name, self.launch_id, opts.budget_usd, os.environ["ANTHROPIC_API_KEY"],
                               upstream=opts.upstream).start()
            self.proxies[name] = proxy
            egress, api_key = [proxy.url], proxy.proxy_key
            base_url = proxy.url
            if remote:
                base_url = f"{public}/model/{name}"
                self.note(f"{name}: route {base_url}/* to its model proxy {proxy.url} in the reverse proxy")
            extra_env |= {"ANTHROPIC_BASE_URL": base_url, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
                          "DISABLE_AUTOUPDATER": "1", "DISABLE_TELEMETRY": "1", "DISABLE_ERROR_REPORTING": "1"}
            command = ["python", "-m", "orchestrator.agents.claude_runner"]
            stdin = self._session_config(name, direction, prompts.first_prompt(opts.dataset))
        else:
            until = int(self.deadline) if self.deadline else int(time.time() + 365 * 86400)
            command = ["python", "-m", "orchestrator.agents.evolve", "--dataset", opts.dataset, "--until",
                       str(until), "--seed", str(opts.seed + index), "--direction", direction.name, *opts.agent_args]
        fields: dict[str, object] = {
            "agent_id": name, "workspace": workspace, "command": command, "token": token, "api_key": api_key,
            "server_urls": urls, "extra_env": extra_env, "data_dir": p.data_dir,
            "models_dir": p.models_dir if p.models_dir.is_dir() else None,
            "artifacts_dir": p.artifacts_dir if p.artifacts_dir.is_dir() else None,
            "limits": ResourceLimits(cpus=opts.agent_cpus, memory_mb=opts.agent_memory_mb),
            "code_dirs": agent_code_dirs(),
        }
        if "egress" in SandboxSpec.model_fields:
            fields["egress"] = egress
        spec = SandboxSpec(**fields)  # type: ignore[arg-type]
        transcripts = p.state_dir / "transcripts" / self.launch_id / name
        self.agents[name] = AgentProc(name, opts.kind, direction.name, spec, self.launch_id, transcripts, stdin)
        where = sandbox_location(self.backend, spec) if self.backend else ""
        self.db.upsert_agent(AgentRow(name=name, launch_id=self.launch_id, kind=opts.kind, direction=direction.name,
                                      started_at=time.time(), sandbox=where))
        return workspace

    def _session_config(self, name: str, direction: prompts.Direction, prompt: str) -> bytes:
        opts = self.opts
        system = prompts.system_prompt(str(INSIDE_WORKSPACE), str(INSIDE_DATA), direction.text)
        remaining = None
        if opts.budget_usd is not None:
            remaining = max(0.01, opts.budget_usd - self.proxies[name].spent())
        return json.dumps({"system_prompt": system, "prompt": prompt, "model": opts.model,
                           "max_turns": opts.max_turns, "max_budget_usd": remaining,
                           "servers": self._urls.get(name) or {s.name: s.url for s in self.services}}).encode()

    def _start_agent(self, proc: AgentProc, stdin: bytes | None = None) -> None:
        assert self.backend is not None
        try:
            proc.start(self.backend, self.db, stdin)
        except Exception as exc:  # noqa: BLE001 - a spec the sandbox refuses is this agent's failure, not the launch's
            self.db.update_agent(proc.name, state="failed", exit_reason=f"sandbox refused to start: {exc}"[:1000],
                                 ended_at=time.time())
            self.note(f"{proc.name}: sandbox refused to start: {exc}")
            return
        # exit_reason stays: it says why the previous session ended until this one ends.
        self.db.update_agent(proc.name, state="running", pid=proc.pid, ended_at=None)
        self.note(f"{proc.name} started (session {proc.sessions}, pid {proc.pid})")

    # ---- supervise
    def tick(self) -> None:
        now = time.time()
        self._check_servers(now)
        for proc in self.agents.values():
            self._check_agent(proc, now)

    def _check_servers(self, now: float) -> None:
        if self._supervisor is not None:
            self._supervisor.check(now, self.stopping.is_set())

    def _check_agent(self, proc: AgentProc, now: float) -> None:
        row = self.db.agent(proc.name)
        if row is None or row.launch_id != self.launch_id:
            return
        if row.state == "stopped":  # `orchestrator stop --agent` wrote it; honour it
            if proc.poll() is None and proc.handle is not None:
                self._end_session(proc, proc.stop(), state="stopped")
            self._due.pop(proc.name, None)
            return
        due = self._due.get(proc.name)
        if due is not None:
            if now >= due and not self._out_of_time(now):
                del self._due[proc.name]
                stdin = None
                if proc.kind == "claude":
                    reason = (row.exit_reason or "ended").splitlines()[0]
                    stdin = self._session_config(proc.name, self.directions[proc.direction], prompts.resume_prompt(
                        self.opts.dataset, reason))
                self._start_agent(proc, stdin)
            return
        if row.state not in ("running",):
            return
        code = proc.poll()
        if code is None:
            return
        result = self._end_session(proc, code, state=None)
        restarts = row.restarts
        if self._out_of_time(now):
            self.db.update_agent(proc.name, state="done", ended_at=now)
        elif result.budget_spent or (proc.name in self.proxies and not self.proxies[proc.name].budget_left()):
            self.db.update_agent(proc.name, state="done", ended_at=now,
                                 exit_reason=f"budget spent (${self.opts.budget_usd:.2f})")
            self.note(f"{proc.name}: budget spent; stopped")
        elif code == EXIT_MCP:
            self.db.update_agent(proc.name, state="failed", ended_at=now)
            self.note(f"{proc.name}: {result.reason}; not restarted")
        elif code == 0 and proc.kind == "evolve":
            self.db.update_agent(proc.name, state="done", ended_at=now)
        elif code == 0:
            self.db.update_agent(proc.name, state="restarting")
            self._due[proc.name] = now + SESSION_PAUSE_S
        elif restarts < self.opts.max_restarts:
            delay = min(60.0, 2.0 * 2 ** restarts)
            self.db.update_agent(proc.name, state="failed", restarts=restarts + 1, ended_at=now)
            self._due[proc.name] = now + delay
            self.note(f"{proc.name} failed ({result.reason}); restart {restarts + 1} in {delay:.0f}s")
        else:
            self.db.update_agent(proc.name, state="failed", ended_at=now)
            self.note(f"{proc.name} failed ({result.reason}); restart limit reached")

    def _end_session(self, proc: AgentProc, code: int | None, state: str | None) -> SessionResult:
        result = proc.finish(code)
        results = getattr(proc.handle, "results", None)  # a remote sandbox's results and their leak scan
        if results is not None and hasattr(results, "summary"):
            self.note(f"{proc.name}: {results.summary()}")
        if proc.session_id is not None:
            self.db.close_session(proc.session_id, code, result.reason, result.cost_usd, result.num_turns)
            proc.session_id = None
        fields: dict[str, object] = {"exit_reason": result.reason}
        if state is not None:
            fields |= {"state": state, "ended_at": time.time()}
        self.db.update_agent(proc.name, **fields)
        return result

    def _out_of_time(self, now: float) -> bool:
        return self.stopping.is_set() or (self.deadline is not None and now >= self.deadline)

    def finished(self) -> bool:
        if self._out_of_time(time.time()):
            return True
        rows = self.db.agents(self.launch_id)
        return bool(rows) and all(r.state in ("done", "stopped") or (r.state == "failed" and r.name not in self._due)
                                  for r in rows)

    def run(self, on_tick: object = None) -> None:
        """Supervise until the deadline, every agent is finished, or `stopping` is set."""
        while not self.finished():
            self.tick()
            if callable(on_tick):
                on_tick()
            self.stopping.wait(0.5)

    # ---- stop
    def shutdown(self, state: str = "done", grace_s: float = 10.0) -> None:
        """Stop agents (gracefully, then by force), servers we started, proxies; revoke the launch's tokens."""
        self.stopping.set()
        final = "stopped" if state == "stopped" else "done"
        threads = []
        for proc in self.agents.values():
            if proc.handle is not None and proc.session_id is not None:
                def stop_one(p: AgentProc = proc) -> None:
                    self._end_session(p, p.stop(grace_s), state=final)
                threads.append(threading.Thread(target=stop_one, daemon=True))
            else:
                row = self.db.agent(proc.name)
                if row is not None and row.launch_id == self.launch_id and row.state in ("starting", "restarting",
                                                                                         "running"):
                    self.db.update_agent(proc.name, state=final, ended_at=time.time())
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=grace_s + 20)
        if self._syncer is not None:
            self._syncer.stop()
        for proxy in self.proxies.values():
            proxy.stop()
        if self.server_procs:
            stop_services(self.services)
            for proc in self.server_procs.values():
                if proc.poll() is None:
                    proc.wait(timeout=10)
        revoked = ws.revoke_launch(self.tokens, self.launch_id)
        self.note(f"revoked {revoked} token(s)")
        self.db.end_launch(self.launch_id, state)
        for replicator in (self._replicator, self._tokens_replicator):
            if replicator is not None:
                replicator.stop()


def install_signal_handlers(launch: Launch) -> None:
    def handler(signum: int, _frame: object) -> None:
        launch.note(f"received {signal.Signals(signum).name}; stopping")
        launch.stopping.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
