"""Core tests run in a fresh W2S_HOME (root conftest) with server variables cleared."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def state(w2s_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in [v for v in os.environ if v.startswith("W2S_") and v not in ("W2S_HOME", "W2S_RAW_DIR",
                                                                          "W2S_MODELS_DIR")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("W2S_LITESTREAM", "false")
    return w2s_home / "private" / "state"
