"""Fixtures of the snapshot tests: a tmp W2S_HOME, agent workspaces and tokens."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mcp_servers.core import TokenStore
from mcp_servers.snapshot import SnapshotSettings
from tests.mcp_servers.snapshot.snapshot_helpers import SEnv


@pytest.fixture
def senv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SEnv:
    for var in list(os.environ):
        if var.startswith("W2S_"):
            monkeypatch.delenv(var)
    home = tmp_path / "w2s"
    monkeypatch.setenv("W2S_HOME", str(home))
    monkeypatch.setenv("W2S_LITESTREAM", "false")
    monkeypatch.setenv("W2S_SNAPSHOT_MAX_FILE_BYTES", str(200_000))
    monkeypatch.setenv("W2S_SNAPSHOT_MAX_TOTAL_BYTES", str(2_000_000))
    monkeypatch.setenv("W2S_SNAPSHOT_MAX_FILES", "200")
    monkeypatch.setenv("W2S_SNAPSHOT_INLINE_MAX_BYTES", str(300_000))
    settings = SnapshotSettings()
    tokens = TokenStore(settings.tokens_db)
    minted = {a: tokens.mint(a, ["snapshot"]) for a in ("alice", "bob")}
    minted["findings-only"] = tokens.mint("carol", ["findings"])
    for agent in ("alice", "bob"):
        (settings.workspaces_dir / agent).mkdir(parents=True)
    return SEnv(home, settings, minted)
