"""Core tests run in a fresh W2S_HOME (root conftest) (no operator setting left)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def state(w2s_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("W2S_LITESTREAM", "false")
    return w2s_home / "private" / "state"
