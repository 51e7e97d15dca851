"""Fixtures of the findings tests: every test gets its own W2S_HOME (state, label store, workspaces)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.mcp_servers.findings.findings_helpers import FEnv, build_fenv


@pytest.fixture
def w2s_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in list(os.environ):
        if var.startswith("W2S_"):
            monkeypatch.delenv(var)
    home = tmp_path / "w2s"
    monkeypatch.setenv("W2S_HOME", str(home))
    monkeypatch.setenv("W2S_LITESTREAM", "false")
    return home


@pytest.fixture
def fenv(w2s_home: Path) -> FEnv:
    return build_fenv(w2s_home)
