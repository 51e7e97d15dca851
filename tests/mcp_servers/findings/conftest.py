"""Fixtures of the findings tests: every test gets its own W2S_HOME (the root w2s_home: state, label store, workspaces)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.mcp_servers.findings.findings_helpers import FEnv, build_fenv


@pytest.fixture
def fenv(w2s_home: Path, monkeypatch: pytest.MonkeyPatch) -> FEnv:
    monkeypatch.setenv("W2S_LITESTREAM", "false")  # the findings servers here run without replicas
    return build_fenv(w2s_home)
