"""Operator side of the trainer: calibration (weak accuracy and strong ceiling over seeds) and the results table.

Both read hidden labels from the label store, so they run on the trusted side only, never in a sandbox. The
trainer library does the training (public data in, predictions out); this module only scores what it returns.

    cal = calibrate("sentiment", seeds=[0, 1, 2, 3, 4])            # trains weak + ceiling per seed, writes the file
    rows = results_table(Path("runs"), ["sentiment"])              # scores every `w2s run` predictions file
    print(format_table(rows))
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mcp_servers.grader._calibration import Calibration, SliceCalibration, read_calibration, write_calibration
from mcp_servers.grader._scoring import score, slice_of
from mcp_servers.grader.datasets import LabelStore


def mean_sem(values: Sequence[float]) -> tuple[float, float | None]:
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()), (float(arr.std(ddof=1) / math.sqrt(len(arr))) if len(arr) > 1 else None)


def _accuracies(preds: np.ndarray, labels: Any) -> dict[str, float]:
    truth = np.asarray(labels.labels)
    correct = (preds >= 0.5).astype(int) == truth
    out = {"all": float(correct.mean())}
    slices = np.array([slice_of(s) for s in labels.subsets], dtype=object)
    for name in ("id", "ood"):
        if (slices == name).any():
            out[name] = float(correct[slices == name].mean())
    return out


CEILING_CACHE = "ceiling_test.json"
"""Per seed folder: the ceiling's test predictions and the overrides they were trained with (adding seeds reuses them)."""


def _cached_ceiling(folder: Path, overrides_key: str, ids: list[str]) -> np.ndarray | None:
    path = folder / CEILING_CACHE
    if not path.is_file():
        return None
    payload = json.loads(path.read_text())
    if payload.get("overrides") != overrides_key or payload.get("ids") != ids:
        return None
    return np.asarray(payload["predictions"], dtype=np.float32)


def save_ceiling(folder: Path, overrides_key: str, ids: list[str], preds: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    payload = {"overrides": overrides_key, "ids": ids, "predictions": [float(p) for p in preds]}
    (folder / CEILING_CACHE).write_text(json.dumps(payload) + "\n")


def calibrate(
    dataset: str, seeds: Sequence[int], label_store: Path | None = None, out_dir: Path = Path("runs/calibration"),
    write: bool = True, fresh: bool = False, **overrides: Any,
) -> Calibration:
    """Weak model on train_label and strong model on train_unlabel's true labels (the ceiling), N seeds each.

    A seed whose ceiling predictions are already in `out_dir` for the same overrides is not retrained (weak
    artifacts are cached by the trainer anyway), so going from 3 to 5 seeds trains 2 ceilings; `fresh` retrains.
    """
    from trainer import paths
    from trainer.ideas import make_config
    from trainer.ideas._common import fit_and_predict
    from trainer.ideas._registry import IdeaContext

    store = LabelStore(label_store or paths().label_store_dir)
    test, unlabel = store.load(dataset, "test"), store.load(dataset, "train_unlabel")
    weak_acc: list[dict[str, float]] = []
    strong_acc: list[dict[str, float]] = []
    for seed in seeds:
        config = make_config("vanilla_w2s", dataset=dataset, seed=seed, **overrides)
        ctx = IdeaContext(config, out_dir / dataset / f"seed{seed}", progress=False)
        if ctx.train_unlabel.ids != unlabel.ids or ctx.test.ids != test.ids:
            raise ValueError(f"public tree and label store of {dataset!r} disagree; rebuild the dataset")
        weak_acc.append(_accuracies(ctx.weak_artifact().aligned(ctx.test), test))
        key = json.dumps(overrides, sort_keys=True)
        preds = None if fresh else _cached_ceiling(ctx.out_dir, key, test.ids)
        if preds is None:
            truth = np.asarray(unlabel.labels, dtype=np.float32)
            preds, _ = fit_and_predict(ctx, ctx.train_unlabel.rows, truth, ctx.strong_config(), "ceiling")
            save_ceiling(ctx.out_dir, key, test.ids, preds)
        strong_acc.append(_accuracies(preds, test))
    weak_mean, weak_sem = mean_sem([a["all"] for a in weak_acc])
    strong_mean, strong_sem = mean_sem([a["all"] for a in strong_acc])
    slices = {name: SliceCalibration(weak_acc=mean_sem([a[name] for a in weak_acc])[0],
                                     strong_acc=mean_sem([a[name] for a in strong_acc])[0])
              for name in ("id", "ood") if name in weak_acc[0]}
    cal = Calibration(weak_acc=weak_mean, strong_acc=strong_mean, weak_sem=weak_sem, strong_sem=strong_sem,
                      seeds=len(seeds), source=f"trainer calibrate {json.dumps(overrides, sort_keys=True)}",
                      slices=slices)  # type: ignore[arg-type]
    if write:
        write_calibration(store.root, dataset, cal)
    return cal


def results_table(runs_dir: Path, datasets: Sequence[str] | None = None, label_store: Path | None = None) -> list[dict]:
    """One row per (idea, dataset): transfer accuracy and PGR, mean ± sem over the seeds found under runs_dir.

    Expects the `w2s run` layout `<runs_dir>/<idea>/<dataset>/seed<k>/predictions.json`.
    """
    from trainer import paths

    store = LabelStore(label_store or paths().label_store_dir)
    found: dict[tuple[str, str], list[Path]] = defaultdict(list)
    for path in sorted(runs_dir.glob("*/*/seed*/predictions.json")):
        idea, dataset = path.parts[-4], path.parts[-3]
        if datasets is None or dataset in datasets:
            found[(idea, dataset)].append(path)
    rows = []
    for (idea, dataset), files in sorted(found.items()):
        labels, cal = store.load(dataset, "test"), read_calibration(store.root, dataset)
        accs, pgrs = [], []
        part_pgrs: dict[str, list[float]] = defaultdict(list)
        for path in files:
            payload = json.loads(path.read_text())
            if payload["ids"] != labels.ids:
                raise ValueError(f"{path}: ids do not match the test split of {dataset}")
            result = score(payload["predictions"], labels, cal)
            accs.append(result.overall.accuracy)
            if result.overall.pgr is not None:
                pgrs.append(result.overall.pgr)
            for part in ("id", "ood"):
                got = getattr(result, part)
                if got is not None and got.pgr is not None:
                    part_pgrs[part].append(got.pgr)
        acc, acc_sem = mean_sem(accs)
        pgr, pgr_sem = mean_sem(pgrs) if pgrs else (None, None)
        rows.append({"idea": idea, "dataset": dataset, "seeds": len(files),
                     "weak": cal.weak_acc if cal else None, "weak_sem": cal.weak_sem if cal else None,
                     "ceiling": cal.strong_acc if cal else None, "ceiling_sem": cal.strong_sem if cal else None,
                     "transfer": acc, "transfer_sem": acc_sem, "pgr": pgr, "pgr_sem": pgr_sem,
                     **{f"{part}_pgr": mean_sem(part_pgrs[part])[0] if part_pgrs[part] else None
                        for part in ("id", "ood")}})
    return rows


def _pm(value: float | None, sem: float | None, digits: int = 4) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" + (f" ± {sem:.{digits}f}" if sem is not None else "")


def format_table(rows: Sequence[dict]) -> str:
    """Markdown, one line per idea and dataset: weak, ceiling, transfer, PGR (mean ± sem), PGR on ID / OOD rows."""
    lines = ["| dataset | idea | seeds | weak | ceiling | transfer | PGR | PGR ID | PGR OOD |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['idea']} | {r['seeds']} | {_pm(r['weak'], r['weak_sem'])} | "
                     f"{_pm(r['ceiling'], r['ceiling_sem'])} | {_pm(r['transfer'], r['transfer_sem'])} | "
                     f"{_pm(r['pgr'], r['pgr_sem'], 3)} | {_pm(r.get('id_pgr'), None, 3)} | "
                     f"{_pm(r.get('ood_pgr'), None, 3)} |")
    return "\n".join(lines)


def format_wide(rows: Sequence[dict]) -> str:
    """The reference's layout: one line per dataset, weak / ceiling, then `transfer (PGR)` per idea."""
    ideas = sorted({r["idea"] for r in rows})
    by_dataset: dict[str, dict[str, dict]] = defaultdict(dict)
    for r in rows:
        by_dataset[r["dataset"]][r["idea"]] = r
    lines = ["| dataset | weak / ceiling | " + " | ".join(ideas) + " |", "|---|---|" + "---|" * len(ideas)]
    for dataset, got in sorted(by_dataset.items()):
        first = next(iter(got.values()))
        cells = [f"{_pm(got[i]['transfer'], None)} ({_pm(got[i]['pgr'], None, 3)})" if i in got else "-"
                 for i in ideas]
        lines.append(f"| {dataset} | {_pm(first['weak'], None)} / {_pm(first['ceiling'], None)} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)
