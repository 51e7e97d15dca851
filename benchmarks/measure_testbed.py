"""Operator-side measurement: weak accuracy, strong ceiling and idea transfer on a testbed, scored with hidden labels.

Reads the grader's label store, so it runs on the operator side only (never inside a sandbox). Usage:
    python benchmarks/measure_testbed.py --dataset sentiment --seeds 0 --ideas vanilla_w2s [--set strong.epochs=1]
Prints one JSON line per measurement and a summary (mean ± sem; for ideas, PGR and its seed sem).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _sem(values: list[float]) -> float:
    return float(np.std(values, ddof=1) / math.sqrt(len(values))) if len(values) > 1 else float("nan")


def main() -> None:
    from transformers.utils import logging

    logging.set_verbosity_error()
    from mcp_servers.grader.datasets import LabelStore
    from trainer import paths
    from trainer.cli import parse_sets
    from trainer.ideas import IdeaContext, fit_and_predict, make_config, run_idea
    from trainer.weak import WeakConfig, build_weak_artifact

    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="sentiment")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--ideas", default="vanilla_w2s")
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--out", default="runs/measure")
    parser.add_argument("--no-ceiling", action="store_true")
    args = parser.parse_args()
    overrides = parse_sets(args.set)  # as `w2s run --set`: JSON when it parses, else a bare string ("full")
    store = LabelStore(paths().label_store_dir)
    test = store.load(args.dataset, "test")
    truth = np.array(test.labels)
    unlabel_truth = np.array(store.load(args.dataset, "train_unlabel").labels, dtype=np.float32)
    rows: dict[str, list[float]] = {}

    def acc(p: np.ndarray) -> float:
        return float(((p >= 0.5).astype(int) == truth).mean())

    for seed in [int(s) for s in args.seeds.split(",")]:
        base = make_config("vanilla_w2s", dataset=args.dataset, seed=seed, **overrides)
        out = Path(args.out) / args.dataset / f"seed{seed}"
        ctx = IdeaContext(base, out / "ceiling", progress=False)
        t = time.perf_counter()
        weak = build_weak_artifact(WeakConfig(args.dataset, base.weak.updated(seed=seed, progress=False)))
        ids, wp = weak.probs("test")
        assert ids == test.ids
        rows.setdefault("weak", []).append(acc(wp))
        print(json.dumps({"seed": seed, "what": "weak", "acc": acc(wp), "artifact": weak.id,
                          "s": time.perf_counter() - t}), flush=True)
        if not args.no_ceiling:
            t = time.perf_counter()
            preds, _ = fit_and_predict(ctx, ctx.train_unlabel.rows, unlabel_truth, ctx.strong_config(), "ceiling")
            rows.setdefault("ceiling", []).append(acc(preds))
            print(json.dumps({"seed": seed, "what": "ceiling", "acc": acc(preds), "s": time.perf_counter() - t}),
                  flush=True)
        for idea in args.ideas.split(","):
            t = time.perf_counter()
            config = make_config(idea, dataset=args.dataset, seed=seed, **overrides)
            result = run_idea(idea, config, out / idea, progress=False)
            rows.setdefault(idea, []).append(acc(result.predictions))
            print(json.dumps({"seed": seed, "what": idea, "acc": acc(result.predictions),
                              "s": time.perf_counter() - t}), flush=True)
    summary = {k: {"mean": float(np.mean(v)), "sem": _sem(v), "n": len(v)} for k, v in rows.items()}
    if "weak" in summary and "ceiling" in summary:
        w, c = summary["weak"]["mean"], summary["ceiling"]["mean"]
        for k, row in summary.items():
            if k not in ("weak", "ceiling"):
                row["pgr"] = (row["mean"] - w) / (c - w) if c - w > 1e-3 else None
                # per-seed PGRs against the mean weak and ceiling, as `w2s-admin results table` reports them
                row["pgr_sem"] = _sem([(a - w) / (c - w) for a in rows[k]]) if c - w > 1e-3 else None
    print(json.dumps({"summary": summary}, indent=2))


if __name__ == "__main__":
    main()
