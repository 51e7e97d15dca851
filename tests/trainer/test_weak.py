from pathlib import Path

import numpy as np

from trainer.data import load_split
from trainer.training import TrainConfig
from trainer.weak import WeakConfig, artifact_id, build_weak_artifact, list_weak_artifacts, load_weak_artifact

TINY = TrainConfig(model="minilm-l6", lora=False, max_steps=1, batch_size=8, progress=False, max_length=64)


def test_build_reuse_and_load(tiny_home: Path) -> None:
    config = WeakConfig("tiny", TINY)
    artifact = build_weak_artifact(config)
    assert artifact.id == artifact_id(config) and artifact.id.startswith("weak-")
    test = load_split("tiny", "test")
    ids, p = artifact.probs("test")
    assert ids == test.ids and p.shape == (len(test),) and np.all((p >= 0) & (p <= 1))
    assert artifact.aligned(load_split("tiny", "train_unlabel")).shape == (24,)
    mtime = (artifact.path / "info.json").stat().st_mtime
    again = build_weak_artifact(config)  # cached: not retrained
    assert again.id == artifact.id and (again.path / "info.json").stat().st_mtime == mtime
    assert load_weak_artifact(artifact.id).path == artifact.path
    assert [a.id for a in list_weak_artifacts()] == [artifact.id]
    assert (artifact.path / "weak.npz").is_file() and (artifact.path / "metrics.jsonl").is_file()


def test_id_tracks_config_but_not_progress_flags(tiny_home: Path) -> None:
    a = artifact_id(WeakConfig("tiny", TINY))
    assert artifact_id(WeakConfig("tiny", TINY.updated(progress=True, log_every=3))) == a
    assert artifact_id(WeakConfig("tiny", TINY.updated(seed=1))) != a
