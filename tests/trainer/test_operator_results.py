"""Operator-side calibration and results table (mcp_servers/grader/_results.py) on the tiny dataset."""

import json
from pathlib import Path

import numpy as np
import pytest
from trainer_helpers import TINY, binary_rows

from mcp_servers.grader._results import CEILING_CACHE, calibrate, format_table, format_wide, results_table
from mcp_servers.grader.datasets import LabelStore
from trainer.data import TaskType, load_split


def _store(home: Path) -> LabelStore:
    store = LabelStore(home / "private" / "labels")
    splits = {}
    for seed, split in ((1, "train_unlabel"), (2, "test")):
        truth = binary_rows(12 if split == "train_unlabel" else 8, seed, split, True)
        assert [r.id for r in truth] == load_split("tiny", split).ids
        splits[split] = [{"id": r.id, "label": int(r.label), "subset": "id_x" if i % 2 else "ood_y"}
                         for i, r in enumerate(truth)]
    store.write("tiny", TaskType.BINARY, splits, source="test")
    return store


def test_calibrate_then_table(tiny_home: Path, tmp_path: Path) -> None:
    store = _store(tiny_home)
    cal = calibrate("tiny", [0, 1], store.root, tmp_path / "cal", **TINY)
    assert cal.seeds == 2 and 0 <= cal.weak_acc <= 1 and cal.weak_sem is not None and set(cal.slices) == {"id", "ood"}
    ids = load_split("tiny", "test").ids
    for seed in (0, 1):
        folder = tmp_path / "runs" / "vanilla_w2s" / "tiny" / f"seed{seed}"
        folder.mkdir(parents=True)
        (folder / "predictions.json").write_text(json.dumps({"dataset": "tiny", "split": "test", "ids": ids,
                                                             "predictions": [0.9] * len(ids)}))
    rows = results_table(tmp_path / "runs", ["tiny"], store.root)
    assert len(rows) == 1 and rows[0]["seeds"] == 2 and rows[0]["transfer"] == 0.5
    assert "| tiny | vanilla_w2s | 2 |" in format_table(rows)
    assert {"id_pgr", "ood_pgr"} <= set(rows[0])  # None where a slice's weak and ceiling tie
    wide = format_wide(rows).splitlines()
    assert wide[0] == "| dataset | weak / ceiling | vanilla_w2s |"
    assert wide[2].startswith(f"| tiny | {cal.weak_acc:.4f} / {cal.strong_acc:.4f} | 0.5000 (")


def test_calibrate_reuses_ceilings_trained_with_the_same_overrides(
    tiny_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import trainer.ideas as common  # calibrate calls the public trainer.ideas.fit_and_predict

    store = _store(tiny_home)
    trained: list[int] = []
    real = common.fit_and_predict

    def counting(ctx, rows, labels, config=None, name="strong"):  # type: ignore[no-untyped-def]
        trained.append(config.seed)
        return real(ctx, rows, labels, config, name)

    monkeypatch.setattr(common, "fit_and_predict", counting)
    first = calibrate("tiny", [0], store.root, tmp_path / "cal", **TINY)
    again = calibrate("tiny", [0, 1], store.root, tmp_path / "cal", **TINY)
    assert trained == [0, 1] and again.seeds == 2
    assert again.strong_acc == pytest.approx((first.strong_acc + _seed_acc(tmp_path, store, 1)) / 2)
    calibrate("tiny", [0], store.root, tmp_path / "cal", fresh=True, **TINY)
    assert trained == [0, 1, 0]


def _seed_acc(tmp_path: Path, store: LabelStore, seed: int) -> float:
    payload = json.loads((tmp_path / "cal" / "tiny" / f"seed{seed}" / CEILING_CACHE).read_text())
    truth = np.asarray(store.load("tiny", "test").labels)
    return float(((np.asarray(payload["predictions"]) >= 0.5) == truth).mean())
