"""Fast tier vs LoRA tier: seconds per candidate and how well the head tier ranks candidates as LoRA does.

Operator side (scores with hidden labels from the label store, as measure_testbed.py does). Each candidate is an
idea plus overrides (a baseline, or vanilla_w2s with another loss); each runs on both tiers with the same weak
artifact, which is built before the clock starts. Features are cached before timing too (`w2s features`), so the
head time is what an agent's candidate costs once a dataset's features exist.

    python benchmarks/fast_tier_bench.py --dataset sentiment --seeds 0 --student-rows 400
    python benchmarks/fast_tier_bench.py --candidates vanilla_w2s,vanilla_w2s+logconf,probe_w2s --seeds 0,1
    python benchmarks/fast_tier_bench.py --student-rows 400 --lora-set strong.epochs=2 --lora-set strong.head_lr=1e-3

`--set` applies to every run (both tiers, weak side included, as `w2s run --set`); `--lora-set` to the LoRA tier
only. Both tiers' heads start as the zero-shot scorer centered on the training rows (`center_start`); before that,
the uncentered cosine called every row True on both testbeds and short LoRA runs stayed there (accuracy 0.500).

Prints one JSON line per run, then per candidate: head s, LoRA s, the ratio, accuracy on each tier; then the
Spearman rank correlation of the candidates' accuracies (seeds averaged) between the tiers.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from _stats import spearman  # a sibling: benchmarks run as `python benchmarks/X.py`

os.environ.setdefault("HF_HUB_OFFLINE", "1")

CANDIDATES: dict[str, tuple[str, dict[str, Any]]] = {
    "vanilla_w2s": ("vanilla_w2s", {}),
    "vanilla_w2s+logconf": ("vanilla_w2s", {"strong.loss": "logconf"}),
    "vanilla_w2s+soft": ("vanilla_w2s", {"hard_labels": False, "strong.loss": "soft_xent"}),
    "train_only_on_confident_labels": ("train_only_on_confident_labels", {}),
    "ue_zeroshot": ("ue_zeroshot", {}),
    "probe_w2s": ("probe_w2s", {}),
}


def main() -> None:
    import torch
    from transformers.utils import logging

    logging.set_verbosity_error()
    from mcp_servers.grader.datasets import LabelStore
    from trainer import paths
    from trainer.cli import parse_sets
    from trainer.features import cache_dataset_features
    from trainer.ideas import IdeaContext, make_config, run_idea

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="sentiment")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--candidates", default=",".join(CANDIDATES))
    parser.add_argument("--student-rows", type=int, default=None,
                        help="cap the student's training rows on both tiers (strong.max_rows) to keep LoRA short")
    parser.add_argument("--set", action="append", default=[], help="KEY=VALUE override for every run")
    parser.add_argument("--lora-set", action="append", default=[], help="KEY=VALUE override for the LoRA tier only")
    parser.add_argument("--tiers", default="head,lora")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="runs/fast_tier_bench")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    store = LabelStore(paths().label_store_dir)
    truth = np.array(store.load(args.dataset, "test").labels)
    tiers = args.tiers.split(",")
    names = [c for c in args.candidates.split(",") if c]
    unknown = [c for c in names if c not in CANDIDATES]
    if unknown:
        parser.error(f"unknown candidates {unknown}; known: {', '.join(CANDIDATES)}")
    seeds = [int(s) for s in args.seeds.split(",")]
    common, lora_only = parse_sets(args.set), parse_sets(args.lora_set)
    base = make_config("vanilla_w2s", dataset=args.dataset, **common)
    cache_dataset_features(base.strong.model, args.dataset, max_length=base.strong.max_length, progress=False)
    for seed in seeds:  # weak artifacts are shared by every candidate: build them off the clock
        IdeaContext(make_config("vanilla_w2s", dataset=args.dataset, seed=seed, **common), Path(args.out) / "weak",
                    progress=False).weak_artifact()
    acc: dict[tuple[str, str], list[float]] = {}
    secs: dict[tuple[str, str], list[float]] = {}
    for name in names:
        idea, overrides = CANDIDATES[name]
        for tier in tiers:
            for seed in seeds:
                extra = {**common, "strong.tier": tier, **overrides, **(lora_only if tier == "lora" else {})}
                if args.student_rows:
                    extra["strong.max_rows"] = args.student_rows
                config = make_config(idea, dataset=args.dataset, seed=seed, **extra)
                started = time.perf_counter()
                result = run_idea(idea, config, Path(args.out) / name / tier / f"seed{seed}", progress=False)
                wall = time.perf_counter() - started
                score = float(((result.predictions >= 0.5).astype(int) == truth).mean())
                acc.setdefault((name, tier), []).append(score)
                secs.setdefault((name, tier), []).append(wall)
                print(json.dumps({"candidate": name, "tier": tier, "seed": seed, "acc": round(score, 4),
                                  "s": round(wall, 1)}), flush=True)
    print("\n| candidate | " + " | ".join(f"{t} s | {t} acc" for t in tiers) + " | lora/head time |")
    print("|---|" + "---|---|" * len(tiers) + "---|")
    ratios = []
    for name in names:
        cells = " | ".join(f"{np.mean(secs[(name, t)]):.1f} | {np.mean(acc[(name, t)]):.4f}" for t in tiers)
        both = {"head", "lora"} <= set(tiers)
        ratio = np.mean(secs[(name, "lora")]) / np.mean(secs[(name, "head")]) if both else float("nan")
        ratios.append(ratio)
        print(f"| {name} | {cells} | {f'{ratio:.0f}x' if both else '-'} |")
    if {"head", "lora"} <= set(tiers):
        rho = spearman([float(np.mean(acc[(n, "head")])) for n in names],
                       [float(np.mean(acc[(n, "lora")])) for n in names])
        print(f"\nmedian speed ratio lora/head: {np.median(ratios):.0f}x over {len(names)} candidates, "
              f"{len(seeds)} seed(s); Spearman rank correlation of accuracies head vs lora: {rho:.2f}")


if __name__ == "__main__":
    main()
