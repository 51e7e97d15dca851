"""The fast tier on tiny slices: features cached once and reused, a head trained, predictions in the grader's form."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from trainer.data import load_split
from trainer.features import HeadClassifier, feature_store
from trainer.features._store import FeatureStore
from trainer.ideas import make_config, run_idea
from trainer.inference import embed, predict
from trainer.training import TrainConfig, train

_REAL_ARTIFACTS = __import__("tests.conftest", fromlist=["_OPERATOR"])._OPERATOR.artifacts_dir


def _feature_files(home: Path) -> list[Path]:
    return sorted((home / "public" / "artifacts" / "features").rglob("*.npz"))


@pytest.mark.parametrize("model", ["minilm-l6", "smollm2-135m"])
def test_head_tier_caches_once_trains_and_predicts(tiny_home: Path, model: str) -> None:
    unlabel, test = load_split("tiny", "train_unlabel"), load_split("tiny", "test")
    store = FeatureStore(model, 64, progress=False)
    first = store.ensure_split("tiny", "train_unlabel")
    assert first.parent.parent == tiny_home / "public" / "artifacts" / "features"
    assert first.name.startswith("tiny.train_unlabel.")
    with np.load(first, allow_pickle=False) as data:
        assert set(data.files) >= {"keys", "a", "b"} and len(data["a"]) == len(unlabel)
        assert "label" not in " ".join(data.files)
    # Reuse: a second store finds the file and never loads the model.
    again = FeatureStore(model, 64, progress=False)
    assert again.ensure_split("tiny", "train_unlabel") == first
    with pytest.MonkeyPatch.context() as patch:  # not the fixture's monkeypatch: undoing that drops W2S_HOME
        patch.setattr("trainer.features._extract.Extractor.compute",
                      lambda *a, **k: pytest.fail("features were recomputed"))
        feats = again.features(unlabel.rows)
    assert feats.a.shape[0] == len(unlabel) and np.isfinite(feats.a).all()
    assert not list((_REAL_ARTIFACTS / "features").glob("*-L64"))

    labels = np.array([float(i % 2) for i in range(len(unlabel))], dtype=np.float32)
    config = TrainConfig(model=model, tier="head", max_length=64, fast_epochs=2, batch_size=8, progress=False)
    result = train(config, unlabel.rows, labels, tiny_home / "job")
    assert isinstance(result.classifier, HeadClassifier) and result.steps == 2 * 3
    assert result.history[-1]["step"] == result.steps
    meta = json.loads((result.checkpoint / "classifier.json").read_text())
    assert meta["tier"] == "head" and meta["model"] == model
    probs = predict(result.checkpoint, test.rows)  # from the folder, as the predict server does
    assert probs.shape == (len(test),) and ((probs >= 0) & (probs <= 1)).all()
    np.testing.assert_allclose(probs, predict(result.classifier, test.rows), rtol=1e-5, atol=1e-6)
    # test rows were not in a split file yet: cached once as a rows file (unless all were seen), then found again
    names = [p.name for p in _feature_files(tiny_home)]
    assert sum(n.startswith("rows.") for n in names) <= 1
    predict(result.checkpoint, test.rows)
    assert [p.name for p in _feature_files(tiny_home)] == names
    assert embed(result.classifier, test.rows[:3]).shape[0] == 3


@pytest.mark.parametrize("center", [False, True])
def test_head_starts_as_the_zero_shot_scorer(tiny_home: Path, center: bool) -> None:
    rows = load_split("tiny", "train_label").rows
    feats = feature_store("minilm-l6", 64, progress=False).features(rows)
    config = TrainConfig(model="minilm-l6", tier="head", max_length=64, max_steps=1, fast_lr=1e-12, progress=False,
                         center_start=center)
    result = train(config, rows, [0.5] * len(rows))
    cos = (feats.a * feats.b).sum(1)
    assert cos.min() > 0  # every row starts as "True" uncentered: the trap centering removes
    logits = result.classifier.logits_for_rows(rows)
    margins = logits[:, 1] - logits[:, 0]
    # centered: the same scorer minus its mean margin on the training rows, so both classes are predicted at once
    np.testing.assert_allclose(margins, 2 * (cos - cos.mean()) if center else 2 * cos, atol=1e-3)
    assert ((margins > 0).any() and (margins < 0).any()) if center else (margins > 0).all()


def test_mlp_head_preference_rows_and_a_loss(tiny_home: Path) -> None:
    rows = load_split("tinypref", "train_unlabel").rows
    config = TrainConfig(model="minilm-l6", tier="head", head_kind="mlp", head_hidden=16, max_length=64, fast_epochs=3,
                         batch_size=4, fast_lr=1e-2, loss="logconf", progress=False)
    result = train(config, rows, [float(i % 2) for i in range(len(rows))])
    p = predict(result.classifier, rows)
    assert p.shape == (len(rows),) and np.isfinite(p).all()


def test_idea_runs_on_the_head_tier_with_grader_ready_predictions(tiny_home: Path) -> None:
    overrides = {"weak.tier": "head", "weak.model": "minilm-l6", "weak.max_length": 64, "weak.fast_epochs": 2,
                 "strong.tier": "head", "strong.model": "minilm-l6", "strong.max_length": 64, "strong.fast_epochs": 2}
    out = tiny_home / "runs" / "vanilla"
    result = run_idea("vanilla_w2s", make_config("vanilla_w2s", dataset="tiny", **overrides), out, progress=False)
    payload = json.loads((out / "predictions.json").read_text())
    assert payload["dataset"] == "tiny" and payload["split"] == "test"
    assert payload["ids"] == load_split("tiny", "test").ids == result.ids
    assert all(0.0 <= p <= 1.0 for p in payload["predictions"])
    names = {p.name.split(".")[1] for p in _feature_files(tiny_home) if p.name.startswith("tiny.")}
    assert names == {"train_label", "train_unlabel", "test"}


def test_read_only_artifacts_fall_back_to_a_writable_cache(tiny_home: Path, monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    artifacts = tiny_home / "public" / "artifacts" / "features"
    artifacts.mkdir(parents=True)
    artifacts.chmod(0o555)
    monkeypatch.setattr("trainer.features._store._writable", lambda folder: folder != artifacts)
    monkeypatch.setenv("W2S_FEATURE_CACHE", str(tmp_path / "cache"))
    path = FeatureStore("minilm-l6", 64, progress=False).ensure_split("tiny", "test")
    assert path.is_relative_to(tmp_path / "cache")
    artifacts.chmod(0o755)


def test_tier_and_max_rows_config() -> None:
    assert TrainConfig().resolved_tier == "lora" and TrainConfig(lora=False).resolved_tier == "full"
    assert TrainConfig(tier="full").uses_lora is False and TrainConfig(tier="head", lora=True).uses_lora is False
    from tests.trainer.trainer_helpers import binary_rows
    from trainer.training._loop import limit_rows

    data = binary_rows(10, 0, "train_label", labeled=True)
    kept, labels = limit_rows(data, [1.0] * len(data), 6, seed=0)
    assert len(kept) == 6 and len(labels) == 6
    groups = {r.consistency_id for r in kept}
    assert all(sum(r.consistency_id == g for r in kept) == 2 for g in groups)
    with pytest.raises(ValueError, match="max_rows"):
        limit_rows(data, [1.0] * len(data), 0, seed=0)
