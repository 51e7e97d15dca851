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
    """The one home fixture: a fresh, empty W2S_HOME for one test. Every W2S_ and MLFLOW_ setting of the operator's
    environment is unset (W2S_TEST_* switches, which only choose what tests may reach, are kept); the packaged raw
    corpora and the model cache still come from the operator's setup, so testbeds build and models load offline."""
    for var in list(os.environ):
        if var.startswith(("W2S_", "MLFLOW_")) and not var.startswith("W2S_TEST_"):
            monkeypatch.delenv(var)
    home = tmp_path / "w2s"
    monkeypatch.setenv("W2S_HOME", str(home))
    monkeypatch.setenv("W2S_RAW_DIR", str(_OPERATOR.raw_dir))
    monkeypatch.setenv("W2S_MODELS_DIR", str(_OPERATOR.models_dir))
    return home


@pytest.fixture
def tiny_home(w2s_home: Path) -> Path:
    """`w2s_home` whose public tree holds two synthetic datasets: `tiny` (binary, grouped) and `tinypref`
    (preference), small enough for any idea to train in seconds (tests/trainer/trainer_helpers.py)."""
    from tests.trainer.trainer_helpers import write_dataset

    write_dataset(w2s_home / "public" / "data", "tiny", "binary")
    write_dataset(w2s_home / "public" / "data", "tinypref", "preference")
    return w2s_home


@pytest.fixture
def bwrap_ok() -> None:
    """Skips the test unless bubblewrap can make a sandbox here."""
    from tests.skips import require_bwrap

    require_bwrap()
