"""Prediction throughput: batched, length-sorted inference vs a per-example loop (and batched unsorted), same run.

    python benchmarks/predict_bench.py [--model minilm-l6] [--rows 256] [--batch 64]
Uses the public sentiment test split when it exists (real length spread), else synthetic rows.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "trainer"))


def main() -> None:
    import torch
    from transformers.utils import logging

    logging.set_verbosity_error()
    from trainer.classifier import collate, encode_rows, load_classifier
    from trainer.data import load_split
    from trainer.inference import predict_proba

    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="minilm-l6")
    parser.add_argument("--dataset", default="sentiment")
    parser.add_argument("--rows", type=int, default=256)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    try:
        rows = load_split(args.dataset, "test").rows
        rng = np.random.default_rng(0)
        rows = [rows[i] for i in rng.choice(len(rows), min(args.rows, len(rows)), replace=False)]
    except FileNotFoundError:
        from trainer_helpers import binary_rows

        rows = binary_rows(args.rows // 2, 0, "bench", False)
    clf = load_classifier(args.model, "binary" if hasattr(rows[0], "choice") else "preference", 256)
    # load_classifier answers a module in training mode (dropout on); the library's predict switches to eval for
    # the call, so the hand-written path below must too, or it measures (and disagrees by) dropout noise.
    clf.eval()
    predict_proba(clf, rows[:8])  # warm-up

    t = time.perf_counter()
    batched = predict_proba(clf, rows, args.batch)
    t_sorted = time.perf_counter() - t

    t = time.perf_counter()
    with torch.inference_mode():
        feats = encode_rows(clf, rows)
        unsorted = np.concatenate([torch.softmax(clf(**collate(feats[i : i + args.batch], clf.pad_id())), -1)[:, 1]
                                   .numpy() for i in range(0, len(rows), args.batch)])
    t_unsorted = time.perf_counter() - t

    t = time.perf_counter()
    single = np.array([predict_proba(clf, [r], 1)[0] for r in rows])
    t_single = time.perf_counter() - t
    for name, other in (("per-example", single), ("batched unsorted", unsorted)):
        gap = float(np.abs(batched - other).max())
        if gap > 1e-4:
            raise SystemExit(f"batched sorted and {name} predictions disagree by up to {gap:.2e}")
    print(json.dumps({"model": args.model, "rows": len(rows), "batch": args.batch,
                      "per_example_s": t_single, "batched_unsorted_s": t_unsorted, "batched_sorted_s": t_sorted,
                      "speedup_vs_per_example": t_single / t_sorted, "speedup_vs_unsorted": t_unsorted / t_sorted},
                     indent=2))


if __name__ == "__main__":
    main()
