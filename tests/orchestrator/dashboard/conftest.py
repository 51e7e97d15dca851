"""Fixtures of the dashboard tests: a fresh W2S_HOME holding a record written by the real services."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.orchestrator.dashboard.dash_helpers import DEnv, build_denv, populate


@pytest.fixture
def w2s_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in list(os.environ):
        if var.startswith(("W2S_", "MLFLOW_")):
            monkeypatch.delenv(var)
    home = tmp_path / "w2s"
    monkeypatch.setenv("W2S_HOME", str(home))
    monkeypatch.setenv("W2S_LITESTREAM", "false")
    monkeypatch.setenv("W2S_TENSORBOARD", "0")
    return home


@pytest.fixture
def denv(w2s_home: Path) -> DEnv:
    return populate(build_denv(w2s_home))
