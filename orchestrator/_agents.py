"""Per-agent identity for `orchestrator serve`: a token tied to the serve run, and the agent's `.mcp.json`."""

from __future__ import annotations

from pathlib import Path

from mcp_servers.core import TokenStore
from orchestrator import _workspace as ws
from orchestrator._services import Service

MCP_CONFIG = ws.MCP_CONFIG
"""What Claude Code reads in its working directory (`claude --mcp-config .mcp.json` elsewhere)."""


def prepare_agent(agent: str, services: list[Service], store: TokenStore, launch_id: str,
                  host: str = "127.0.0.1") -> Path:
    """Create the agent's workspace, mint its token for this run and write `.mcp.json` (0600) there."""
    workspace = ws.prepare(agent)
    token = ws.mint_token(store, agent, launch_id)
    ws.write_mcp_config(workspace, {s.name: f"http://{host}:{s.port}/mcp" for s in services}, token)
    return workspace
