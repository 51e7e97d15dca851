"""Per-agent identity and workspace: a token scoped to the agent servers, and an MCP config for its client."""

from __future__ import annotations

import json
import os
from pathlib import Path

from mcp_servers.core import AGENT_SCOPES, ServerSettings, TokenStore
from orchestrator._services import Service
from trainer import paths

MCP_CONFIG = ".mcp.json"
"""What Claude Code reads in its working directory (`claude --mcp-config .mcp.json` elsewhere)."""


def prepare_agent(agent: str, services: list[Service], host: str = "127.0.0.1") -> Path:
    """Create the agent's workspace, mint its token and write `.mcp.json` (0600) there; returns the workspace."""
    workspace = paths().workspaces_dir / agent
    workspace.mkdir(parents=True, exist_ok=True)
    token = TokenStore(ServerSettings().tokens_db).mint(agent, AGENT_SCOPES, label="orchestrator serve")
    servers = {
        s.name: {"type": "http", "url": f"http://{host}:{s.port}/mcp", "headers": {"Authorization": f"Bearer {token}"}}
        for s in services
    }
    config = workspace / MCP_CONFIG
    fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"mcpServers": servers}, handle, indent=2)
    return workspace
