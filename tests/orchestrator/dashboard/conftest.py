"""Fixtures of the dashboard tests: a fresh W2S_HOME holding a record written by the real services."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.orchestrator.dashboard.dash_helpers import DEnv, build_denv, populate
from trainer import paths

# Resolved at collection, before any test repoints W2S_HOME: the operator's packaged corpora and model cache.
_OPERATOR = paths()


@pytest.fixture
def w2s_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in list(os.environ):
        if var.startswith(("W2S_", "MLFLOW_")):
            monkeypatch.delenv(var)
    home = tmp_path / "w2s"
    monkeypatch.setenv("W2S_HOME", str(home))
    monkeypatch.setenv("W2S_LITESTREAM", "false")
    monkeypatch.setenv("W2S_TENSORBOARD", "0")
    monkeypatch.setenv("W2S_RAW_DIR", str(_OPERATOR.raw_dir))
    monkeypatch.setenv("W2S_MODELS_DIR", str(_OPERATOR.models_dir))
    return home


@pytest.fixture
def denv(w2s_home: Path) -> DEnv:
    return populate(build_denv(w2s_home))
