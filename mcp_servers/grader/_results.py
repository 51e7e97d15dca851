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
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from mcp_servers.grader._calibration import Calibration, SliceCalibration, read_calibration, write_calibration
from mcp_servers.grader._scoring import score
from mcp_servers.grader.datasets import LabelStore
from mcp_servers.grader.datasets._build import pin_weak
from trainer.predictions import read_predictions


def mean_sem(values: Sequence[float]) -> tuple[float, float | None]:
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()), (float(arr.std(ddof=1) / math.sqrt(len(arr))) if len(arr) > 1 else None)


def _accuracies(preds: np.ndarray, labels: Any) -> dict[str, float]:
    """Accuracy overall, on the id/ood slices and per named subset, all through `score` (the grader's one rule)."""
    scored = score(preds, labels, None)
    out = {"all": scored.overall.accuracy}
    for name in ("id", "ood"):
        if (part := getattr(scored, name)) is not None:
            out[name] = part.accuracy
    subsets = np.array([s or "" for s in labels.subsets], dtype=object)
    for name in sorted({s for s in subsets if s and s not in ("id", "ood")}):
        out[f"subset:{name}"] = score(preds, labels, None, mask=subsets == name).overall.accuracy
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


Report = Callable[[str], None]


def gap_verdict(cal: Calibration) -> str | None:
    """A plain warning when the ceiling-minus-weak gap is too small for PGR to mean anything, else None.

    PGR divides by the gap, so its noise is the seeds' noise over the gap: below 3 points, or below three standard
    errors of the gap (weak and ceiling sems combined), one seed's luck moves PGR by more than any idea does.
    """
    gap = cal.strong_acc - cal.weak_acc
    noise = math.hypot(cal.weak_sem or 0.0, cal.strong_sem or 0.0)
    if gap <= 0:
        return (f"the ceiling ({cal.strong_acc:.4f}) is not above the weak model ({cal.weak_acc:.4f}): PGR is undefined "
                "here; weaken the weak side (e.g. --set weak.max_rows=200) or strengthen the student")
    if gap < 0.03 or (cal.seeds > 1 and gap < 3 * noise):
        return (f"ceiling minus weak is {100 * gap:.1f} points against a seed noise of {100 * noise:.1f} points: PGR on "
                f"this dataset is mostly noise; widen the gap (e.g. --set weak.max_rows=200, a weaker weak model) or "
                f"add seeds")
    return None


def say_to(console: Any) -> Report:
    """A report callback printing timestamped lines on a rich console (agent-free text: no markup parsed)."""
    started = time.perf_counter()

    def say(line: str) -> None:
        console.print(f"[{time.perf_counter() - started:6.0f} s] {line}", markup=False, highlight=False)

    return say


def _eta(done_s: list[float], remaining: int) -> str:
    if not done_s or remaining <= 0:
        return ""
    return f", about {sum(done_s) / len(done_s) * remaining:.0f} s left"


def calibrate(
    dataset: str, seeds: Sequence[int], label_store: Path | None = None, out_dir: Path = Path("runs/calibration"),
    write: bool = True, fresh: bool = False, report: Report | None = None, progress: bool = False,
    **overrides: Any,
) -> Calibration:
    """Weak model on train_label and strong model on train_unlabel's true labels (the ceiling), N seeds each.

    A seed whose ceiling predictions are already in `out_dir` for the same overrides is not retrained (weak
    artifacts are cached by the trainer anyway), so going from 3 to 5 seeds trains 2 ceilings; `fresh` retrains.
    `report(line)` hears each seed's and each model's start and result with an estimate of the time left;
    `progress` shows the trainer's own bars. A copy of the calibration goes to `out_dir/<dataset>/calibration.json`
    (so tables of other regimes can be scored against it: `w2s-admin results table --calibration`).
    """
    from trainer import paths
    from trainer.ideas import IdeaContext, fit_and_predict, make_config
    from trainer.weak import weak_pin

    say = report or (lambda line: None)
    store = LabelStore(label_store or paths().label_store_dir)
    test, unlabel = store.load(dataset, "test"), store.load(dataset, "train_unlabel")
    weak_acc: list[dict[str, float]] = []
    strong_acc: list[dict[str, float]] = []
    seconds: list[float] = []
    for n, seed in enumerate(seeds, start=1):
        started = time.perf_counter()
        config = make_config("vanilla_w2s", dataset=dataset, seed=seed, **overrides)
        ctx = IdeaContext(config, out_dir / dataset / f"seed{seed}", progress=progress)
        if ctx.train_unlabel.ids != unlabel.ids or ctx.test.ids != test.ids:
            raise ValueError(f"public tree and label store of {dataset!r} disagree; rebuild the dataset")
        head = f"seed {seed} ({n}/{len(seeds)})"
        say(f"{head}: weak {config.weak.model} ({config.weak.resolved_tier}) on train_label")
        weak_acc.append(_accuracies(ctx.weak_artifact().aligned(ctx.test), test))
        say(f"{head}: weak test accuracy {_parts(weak_acc[-1])}")
        key = json.dumps(overrides, sort_keys=True)
        preds = None if fresh else _cached_ceiling(ctx.out_dir, key, test.ids)
        if preds is None:
            say(f"{head}: ceiling {config.strong.model} ({config.strong.resolved_tier}) on true train_unlabel labels")
            truth = np.asarray(unlabel.labels, dtype=np.float32)
            preds, _ = fit_and_predict(ctx, ctx.train_unlabel.rows, truth, ctx.strong_config(), "ceiling")
            save_ceiling(ctx.out_dir, key, test.ids, preds)
            seconds.append(time.perf_counter() - started)
        strong_acc.append(_accuracies(preds, test))
        say(f"{head}: ceiling test accuracy {_parts(strong_acc[-1])} "
            f"({time.perf_counter() - started:.0f} s{_eta(seconds, len(seeds) - n)})")
    weak_mean, weak_sem = mean_sem([a["all"] for a in weak_acc])
    strong_mean, strong_sem = mean_sem([a["all"] for a in strong_acc])
    slices = {name: SliceCalibration(weak_acc=mean_sem([a[name] for a in weak_acc])[0],
                                     strong_acc=mean_sem([a[name] for a in strong_acc])[0])
              for name in ("id", "ood") if name in weak_acc[0]}
    pin = weak_pin(config.weak)  # the same for every seed: only the seed differs between their configs
    cal = Calibration(weak_acc=weak_mean, strong_acc=strong_mean, weak_sem=weak_sem, strong_sem=strong_sem,
                      seeds=len(seeds), source=f"w2s-admin results calibrate {json.dumps(overrides, sort_keys=True)} "
                                              f"(weak side {json.dumps(pin, sort_keys=True)})",
                      slices=slices)  # type: ignore[arg-type]
    cal.gap_warning = gap_verdict(cal)
    copy = out_dir / dataset / CALIBRATION_COPY
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_text(cal.model_dump_json(indent=2) + "\n")
    if write:
        write_calibration(store.root, dataset, cal)
        # The grader now scores against this weak side: pin it, so every agent's weak supervisor is the one measured.
        try:
            pin_weak(dataset, pin, replace(paths(), label_store_dir=store.root))
            say(f"pinned the weak side of {dataset}: {json.dumps(pin, sort_keys=True) if pin else 'the defaults'}")
        except FileNotFoundError:
            say(f"{dataset} has no manifest, so its weak side is not pinned: agents get the default weak side unless "
                "they set the one calibrated here (prepare it with `w2s-admin data prepare` to pin it)")
    return cal


CALIBRATION_COPY = "calibration.json"


def _parts(acc: dict[str, float]) -> str:
    """`0.7712` plus every subset's accuracy, whatever its name (`forum_posts 0.70`)."""
    extra = ", ".join(f"{k} {v:.4f}" for k, v in acc.items() if k != "all")
    return f"{acc['all']:.4f}" + (f" ({extra})" if extra else "")


def load_calibration_copy(folder: Path, dataset: str) -> Calibration | None:
    path = folder / dataset / CALIBRATION_COPY
    return Calibration.model_validate_json(path.read_text()) if path.is_file() else None


def results_table(runs_dir: Path, datasets: Sequence[str] | None = None, label_store: Path | None = None,
                  calibration_dir: Path | None = None) -> list[dict]:
    """One row per (idea, dataset): transfer accuracy and PGR, mean ± sem over the seeds found under runs_dir.

    Expects the `w2s run` layout `<runs_dir>/<idea>/<dataset>/seed<k>/predictions.json`. PGR is against the
    grader's calibration, or against the copy a `calibrate(out_dir=calibration_dir)` run wrote (another regime's).
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
        labels = store.load(dataset, "test")
        cal = (load_calibration_copy(calibration_dir, dataset) if calibration_dir is not None
               else read_calibration(store.root, dataset))
        if calibration_dir is not None and cal is None:
            raise FileNotFoundError(f"no calibration for {dataset!r} under {calibration_dir}; run "
                                    f"`w2s-admin results calibrate --dataset {dataset} --out {calibration_dir}`")
        accs, pgrs = [], []
        part_pgrs: dict[str, list[float]] = defaultdict(list)
        for path in files:
            written = read_predictions(path)  # the operator's own runs folder, in the one predictions format
            if written.ids != labels.ids:
                raise ValueError(f"{path}: ids do not match the test split of {dataset}")
            result = score(written.predictions, labels, cal)
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
