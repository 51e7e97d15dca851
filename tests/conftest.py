"""Shared fixtures: every test runs against its own W2S_HOME, never the operator's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("FASTMCP_SHOW_SERVER_BANNER", "false")
os.environ.setdefault("FASTMCP_CHECK_FOR_UPDATES", "off")

# Resolved once, before any test repoints W2S_HOME: where the packaged raw corpora and the model cache live.
from trainer import paths

_OPERATOR = paths()


@pytest.fixture
def w2s_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh W2S_HOME for one test; raw corpora and the model cache still come from the operator's setup."""
    home = tmp_path / "w2s"
    monkeypatch.setenv("W2S_HOME", str(home))
    monkeypatch.setenv("W2S_RAW_DIR", str(_OPERATOR.raw_dir))
    monkeypatch.setenv("W2S_MODELS_DIR", str(_OPERATOR.models_dir))
    for name in ("W2S_DATA_DIR", "W2S_ARTIFACTS_DIR", "W2S_LABELED_DIR", "W2S_LABEL_STORE", "W2S_STATE_DIR",
                 "W2S_WORKSPACES_DIR"):
        monkeypatch.delenv(name, raising=False)
    return home
