"""Workspaces: planted symlinks are replaced, never followed; launch tokens are revoked together."""

from __future__ import annotations

import json
import os
from pathlib import Path

from mcp_servers.core import ServerSettings, TokenStore
from orchestrator import _workspace as ws


def test_notebook_and_mcp_config_never_follow_a_planted_link(w2s_home: Path, tmp_path: Path) -> None:
    workspace = ws.prepare("a1")
    outside = tmp_path / "operator-file"
    outside.write_text("keep")
    os.symlink(outside, workspace / ws.MCP_CONFIG)
    path = ws.write_mcp_config(workspace, {"grader": "http://127.0.0.1:1/mcp"}, "w2s_tok")
    assert outside.read_text() == "keep" and not path.is_symlink()
    assert json.loads(path.read_text())["mcpServers"]["grader"]["headers"]["Authorization"] == "Bearer w2s_tok"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert ws.ensure_notebook(workspace, "a1", "Try distillation.")
    assert "Try distillation." in (workspace / ws.NOTEBOOK).read_text()
    (workspace / ws.NOTEBOOK).write_text("my notes")
    assert not ws.ensure_notebook(workspace, "a1", "other") and (workspace / ws.NOTEBOOK).read_text() == "my notes"


def test_tokens_of_a_launch_are_revoked_together(w2s_home: Path) -> None:
    store = TokenStore(ServerSettings().tokens_db)
    first, second = ws.mint_token(store, "a1", "L1"), ws.mint_token(store, "a2", "L1")
    other = ws.mint_token(store, "a1", "L2")
    assert first != other and store.verify(first) and store.verify(second)
    assert ws.revoke_launch(store, "L1") == 2
    assert store.verify(first) is None and store.verify(second) is None and store.verify(other) is not None
