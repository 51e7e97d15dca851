import json
from pathlib import Path

import numpy as np
import pytest

from trainer.data import load_split
from trainer.ideas import make_config
from trainer.training import ConfigError, TrainConfig
from trainer.weak import (
    WeakConfig,
    artifact_id,
    build_weak_artifact,
    default_weak_train,
    list_weak_artifacts,
    load_weak_artifact,
    pinned_weak,
    weak_pin,
)

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


def _manifest(home: Path, dataset: str, **fields: object) -> Path:
    path = home / "public" / "data" / dataset / "manifest.json"
    path.write_text(json.dumps({"dataset": dataset, **fields}))
    return path


def test_a_pinned_weak_side_is_every_default_and_explicit_fields_win(tiny_home: Path) -> None:
    assert pinned_weak("tiny") == {} and default_weak_train("tiny") == default_weak_train()  # no manifest: no pin
    _manifest(tiny_home, "tiny")
    assert pinned_weak("tiny") == {}  # a manifest without a pin
    _manifest(tiny_home, "tiny", weak={"max_rows": 7, "fast_epochs": 3.0})
    assert pinned_weak("tiny") == {"max_rows": 7, "fast_epochs": 3.0}
    assert default_weak_train("tiny") == default_weak_train().updated(max_rows=7, fast_epochs=3.0)
    config = make_config("vanilla_w2s", dataset="tiny")
    assert (config.weak.max_rows, config.weak.fast_epochs) == (7, 3.0)
    assert make_config("vanilla_w2s", dataset="tiny", **{"weak.max_rows": 9}).weak.max_rows == 9
    assert make_config("vanilla_w2s", dataset="tiny", weak={"max_rows": None}).weak.max_rows is None
    assert make_config("vanilla_w2s", dataset="tinypref").weak.max_rows is None  # pins are per dataset
    assert weak_pin(config.weak.updated(seed=4, progress=False)) == {"max_rows": 7, "fast_epochs": 3.0}


def test_a_broken_pin_is_refused_naming_the_manifest(tiny_home: Path) -> None:
    _manifest(tiny_home, "tiny", weak=[250])
    with pytest.raises(ConfigError, match="tiny manifest: weak: must be an object"):
        pinned_weak("tiny")
    _manifest(tiny_home, "tiny", weak={"max_rows": 0})
    with pytest.raises(ConfigError, match=r"tiny manifest.*max_rows"):
        make_config("vanilla_w2s", dataset="tiny")
    (tiny_home / "public" / "data" / "tiny" / "manifest.json").write_text('{"dataset": "tiny", "weak": {"max_ro')
    with pytest.raises(ConfigError, match="tiny manifest: is not valid JSON"):
        pinned_weak("tiny")
