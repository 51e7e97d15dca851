"""`orchestrator shell AGENT`: an interactive shell inside the agent's sandbox, where `claude` can be started.

The shell gets a token of its own (revoked when the shell exits), a fresh `.mcp.json` with it, and, when the
operator has ANTHROPIC_API_KEY, a model-API proxy like a launched agent's: the real key stays on the host.
"""

from __future__ import annotations

import os
from pathlib import Path

from mcp_servers.core import ServerSettings, TokenStore
from orchestrator import _workspace as ws
from orchestrator._db import StateDB
from orchestrator._options import agent_code_dirs
from orchestrator._proxy import DEFAULT_UPSTREAM, ModelProxy
from orchestrator._services import Service, load_record
from sandbox import SandboxSpec, get_backend
from trainer import paths

SHELL = 'claude() { "$W2S_CLAUDE" --mcp-config "$W2S_WORKSPACE/.mcp.json" --strict-mcp-config "$@"; }; ' \
        'export -f claude; echo "sandboxed shell of $W2S_AGENT_ID: run claude here"; exec bash --norc -i'


def bundled_claude() -> Path | None:
    try:
        import claude_agent_sdk
    except ImportError:
        return None
    path = Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude"
    return path if path.is_file() else None


def run_shell(agent: str) -> int:
    record = load_record()
    services = [Service(**s) for s in record["services"]] if record else []
    if not services or not all(s.healthy() for s in services):
        raise RuntimeError("no running servers: start `orchestrator serve` or `orchestrator launch` first")
    backend = get_backend("bwrap")
    if not hasattr(backend, "run_interactive"):
        raise RuntimeError("this sandbox backend cannot attach a terminal; update the sandbox package")
    workspace = ws.prepare(agent)
    store = TokenStore(ServerSettings().tokens_db)
    shell_id = f"shell-{agent}-{os.getpid()}"
    token = ws.mint_token(store, agent, shell_id)
    urls = {s.name: s.url for s in services}
    ws.write_mcp_config(workspace, urls, token)
    env = {"W2S_LAUNCH_ID": shell_id}
    claude = bundled_claude()
    if claude is not None:
        env["W2S_CLAUDE"] = str(claude)
    proxy = None
    if os.environ.get("ANTHROPIC_API_KEY"):
        proxy = ModelProxy(StateDB(), agent, shell_id, None, os.environ["ANTHROPIC_API_KEY"],
                           upstream=os.environ.get("W2S_ANTHROPIC_UPSTREAM", DEFAULT_UPSTREAM)).start()
        env |= {"ANTHROPIC_BASE_URL": proxy.url, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}
    p = paths()
    fields: dict[str, object] = {
        "agent_id": agent, "workspace": workspace, "command": ["bash", "-c", SHELL], "token": token,
        "api_key": proxy.proxy_key if proxy else None, "server_urls": urls,
        "extra_env": env | {"TERM": os.environ.get("TERM", "xterm")}, "data_dir": p.data_dir,
        "models_dir": p.models_dir if p.models_dir.is_dir() else None,
        "artifacts_dir": p.artifacts_dir if p.artifacts_dir.is_dir() else None, "code_dirs": agent_code_dirs()}
    if "egress" in SandboxSpec.model_fields:
        fields["egress"] = [proxy.url] if proxy else []
    spec = SandboxSpec(**fields)  # type: ignore[arg-type]
    try:
        return backend.run_interactive(spec)
    finally:
        ws.revoke_launch(store, shell_id)
        if proxy is not None:
            proxy.stop()
