"""Head tier vs LoRA tier from finished `w2s run` tables: does the fast tier rank ideas as the LoRA tier does?

Operator side (scores with hidden labels from the label store). Each `--pair HEAD_DIR:LORA_DIR[=SUFFIX]` names two
`w2s run` output folders (`<dir>/<idea>/<dataset>/seed<k>/`) run with `strong.tier=head` and `strong.tier=lora`;
every idea found in both is a candidate (`idea` + SUFFIX), scored on the seeds both tiers have. The tables of
docs/results.md, for example:

    python benchmarks/tier_ranking.py --dataset questions --pair runs/hard-head:runs/lora/main \
        --pair runs/hard-head-logconf:runs/lora/logconf=+logconf \
        --pair runs/hard-head-logconf-balanced:runs/lora/logconf-balanced=+logconf-balanced

Prints per candidate: seeds, accuracy and wall seconds (the run's own `wall_s`) on each tier, the time ratio; then the
Spearman rank correlation of the candidates' accuracies (seeds averaged) and the median time ratio. Unlike
`fast_tier_bench.py` it trains nothing: it reads what the tables' commands already ran.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from _stats import spearman  # a sibling: benchmarks run as `python benchmarks/X.py`

TIERS = ("head", "lora")


def seed_runs(folder: Path, dataset: str) -> dict[str, dict[int, Path]]:
    """idea -> seed -> its run folder, for every finished run (one with a predictions file)."""
    found: dict[str, dict[int, Path]] = {}
    for path in sorted(folder.glob(f"*/{dataset}/seed*/predictions.json")):
        seed = path.parent.name.removeprefix("seed")
        if seed.isdigit():
            found.setdefault(path.parts[-4], {})[int(seed)] = path.parent
    return found


def accuracy_and_seconds(run: Path, truth: dict[str, int]) -> tuple[float, float]:
    from trainer.predictions import read_predictions

    preds = read_predictions(run / "predictions.json")
    if sorted(preds.ids) != sorted(truth):
        raise ValueError(f"{run}: its predictions are not for this dataset's test rows")
    hits = [float((p >= 0.5) == bool(truth[i])) for i, p in zip(preds.ids, preds.predictions, strict=True)]
    metrics = json.loads((run / "metrics.json").read_text()).get("metrics", {})
    return float(np.mean(hits)), float(metrics.get("wall_s", float("nan")))


def main() -> None:
    from mcp_servers.grader.datasets import LabelStore
    from trainer import paths

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="sentiment")
    parser.add_argument("--pair", action="append", required=True, help="HEAD_DIR:LORA_DIR[=SUFFIX]")
    args = parser.parse_args()
    labels = LabelStore(paths().label_store_dir).load(args.dataset, "test")
    truth = dict(zip(labels.ids, labels.labels, strict=True))
    rows = []
    for pair in args.pair:
        dirs, _, suffix = pair.partition("=")
        head_dir, sep, lora_dir = dirs.partition(":")
        if not sep:
            parser.error(f"--pair {pair!r}: expected HEAD_DIR:LORA_DIR[=SUFFIX]")
        head, lora = seed_runs(Path(head_dir), args.dataset), seed_runs(Path(lora_dir), args.dataset)
        for idea in sorted(set(head) & set(lora)):
            seeds = sorted(set(head[idea]) & set(lora[idea]))
            if not seeds:
                continue
            got = {t: [accuracy_and_seconds(runs[idea][s], truth) for s in seeds] for t, runs in zip(TIERS, (head, lora))}
            rows.append({"candidate": idea + suffix, "seeds": seeds,
                         **{f"{t}_acc": float(np.mean([a for a, _ in got[t]])) for t in TIERS},
                         **{f"{t}_s": float(np.mean([s for _, s in got[t]])) for t in TIERS}})
    if not rows:
        parser.error("no idea has finished runs on both tiers for the same seed")
    print("| candidate | seeds | head acc | LoRA acc | head s | LoRA s | LoRA / head time |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['candidate']} | {len(r['seeds'])} | {r['head_acc']:.4f} | {r['lora_acc']:.4f} | {r['head_s']:.1f} | "
              f"{r['lora_s']:.1f} | {r['lora_s'] / r['head_s']:.0f}x |")
    rho = spearman([r["head_acc"] for r in rows], [r["lora_acc"] for r in rows])
    ratio = float(np.median([r["lora_s"] / r["head_s"] for r in rows]))
    print(f"\n{args.dataset}: Spearman rank correlation of accuracies head vs lora: {rho:.2f} over {len(rows)} "
          f"candidates; median time ratio lora/head: {ratio:.0f}x")


if __name__ == "__main__":
    main()
