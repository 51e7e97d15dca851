"""Fixtures for the trainer tests; data helpers live in trainer_helpers.py (importable by test modules)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # test modules import trainer_helpers by name
from trainer_helpers import write_dataset


@pytest.fixture()
def w2s_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Public tree in a tmp dir with `tiny` (binary, grouped) and `tinypref` (preference); models stay shared."""
    from trainer import paths

    models_dir = paths().models_dir  # keep the prepared model cache (mpnet join, SmolLM2 dequantized)
    monkeypatch.setenv("W2S_HOME", str(tmp_path))
    monkeypatch.setenv("W2S_MODELS_DIR", str(models_dir))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    write_dataset(tmp_path / "public" / "data", "tiny", "binary")
    write_dataset(tmp_path / "public" / "data", "tinypref", "preference")
    return tmp_path
