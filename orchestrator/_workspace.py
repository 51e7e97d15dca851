"""Agent workspaces on the host: created for the sandbox user, a notebook, and the agent's `.mcp.json`.

Everything written here goes through a descriptor of the workspace opened without following links, and files are
replaced atomically (`replace_at`): an agent that planted a symlink named NOTEBOOK.md or .mcp.json cannot make the
operator write elsewhere. Public data, models and the trainer are bound read-only by the sandbox, not copied.
"""

from __future__ import annotations

import inspect
import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from mcp_servers.core import AGENT_SCOPES, TokenStore, replace_at
from trainer import paths

MCP_CONFIG = ".mcp.json"
NOTEBOOK = "NOTEBOOK.md"
NOTEBOOK_TEMPLATE = """# Research notebook of {agent}

Direction: {direction}

Write here what you tried, the grader submission ids behind each result, what you learned and what to try next.
A new session starts from this file and `shared_findings/`.
"""


def workspace_path(agent: str) -> Path:
    return paths().workspaces_dir / agent


def prepare(agent: str) -> Path:
    """The agent's workspace, created (and owned by the sandbox user when the sandbox package provides one)."""
    import sandbox

    path = workspace_path(agent)
    make = getattr(sandbox, "prepare_workspace", None)
    if make is not None:
        return Path(make(path))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _open_dir(path: Path) -> int:
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)


def _owned_like_dir(dir_fd: int, name: str) -> None:
    """Give a file we wrote to the workspace's owner (the sandbox user), never following a link."""
    owner = os.fstat(dir_fd)
    info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    if stat.S_ISREG(info.st_mode) and (info.st_uid, info.st_gid) != (owner.st_uid, owner.st_gid):
        os.chown(name, owner.st_uid, owner.st_gid, dir_fd=dir_fd, follow_symlinks=False)


def ensure_notebook(workspace: Path, agent: str, direction: str) -> bool:
    """Create NOTEBOOK.md when the workspace has none (a relaunch keeps the agent's notes); True if created."""
    fd = _open_dir(workspace)
    try:
        try:
            os.stat(NOTEBOOK, dir_fd=fd, follow_symlinks=False)
            return False
        except FileNotFoundError:
            pass
        replace_at(fd, NOTEBOOK, [NOTEBOOK_TEMPLATE.format(agent=agent, direction=direction).encode()], 0o644)
        _owned_like_dir(fd, NOTEBOOK)
        return True
    finally:
        os.close(fd)


def write_mcp_config(workspace: Path, servers: Mapping[str, str], token: str) -> Path:
    """`.mcp.json` for a Claude Code started by `orchestrator shell` inside the sandbox (mode 0600)."""
    config = {"mcpServers": {name: {"type": "http", "url": url, "headers": {"Authorization": f"Bearer {token}"}}
                             for name, url in servers.items()}}
    fd = _open_dir(workspace)
    try:
        replace_at(fd, MCP_CONFIG, [json.dumps(config, indent=2).encode()], 0o600)
        _owned_like_dir(fd, MCP_CONFIG)
    finally:
        os.close(fd)
    return workspace / MCP_CONFIG


def mint_token(store: TokenStore, agent: str, launch_id: str) -> str:
    """A fresh agent-scoped token tied to this launch (revoked with it)."""
    if "launch" in inspect.signature(store.mint).parameters:
        return store.mint(agent, AGENT_SCOPES, label=f"launch {launch_id}", launch=launch_id)  # type: ignore[call-arg]
    return store.mint(agent, AGENT_SCOPES, label=f"launch {launch_id}")


def revoke_launch(store: TokenStore, launch_id: str) -> int:
    """Revoke every token minted for the launch (by the store's launch column, else by our label)."""
    revoke = getattr(store, "revoke_launch", None)
    if revoke is not None:
        return int(revoke(launch_id))
    count = 0
    for info in store.list():
        if info.label == f"launch {launch_id}":
            count += store.revoke(token_id=info.id)
    return count
