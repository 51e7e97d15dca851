"""Fixtures of the snapshot tests: the root w2s_home, agent workspaces and tokens."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_servers.core import TokenStore
from mcp_servers.snapshot import SnapshotSettings
from tests.mcp_servers.snapshot.snapshot_helpers import SEnv


@pytest.fixture
def senv(w2s_home: Path, monkeypatch: pytest.MonkeyPatch) -> SEnv:
    home = w2s_home
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
