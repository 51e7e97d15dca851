"""Fixtures of the dashboard tests: a fresh W2S_HOME holding a record written by the real services."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.orchestrator.dashboard.dash_helpers import DEnv, build_denv, populate


@pytest.fixture(autouse=True)
def _quiet_services(w2s_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every dashboard test gets the root w2s_home; the services it starts keep no replicas and no TensorBoard."""
    monkeypatch.setenv("W2S_LITESTREAM", "false")
    monkeypatch.setenv("W2S_TENSORBOARD", "0")


@pytest.fixture
def denv(w2s_home: Path) -> DEnv:
    return populate(build_denv(w2s_home))
