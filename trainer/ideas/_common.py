"""Building blocks ideas share: train the student on labels, predict test, group-aware label fixes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from trainer.data import BinaryRow, PublicSplit, Row
from trainer.ideas._registry import IdeaContext
from trainer.inference import predict_proba
from trainer.training import TrainConfig, train


def fit_and_predict(
    ctx: IdeaContext, rows: Sequence[Row], labels: Sequence[float] | np.ndarray, config: TrainConfig | None = None,
    name: str = "strong",
) -> tuple[np.ndarray, dict[str, float]]:
    """Train the strong student on (rows, labels) and return P(class 1) on test plus run metrics."""
    config = config or ctx.strong_config()
    if config.resolved_tier == "head":  # cache whole splits under their names (later runs of any idea reuse them)
        from trainer.features import feature_store

        store = feature_store(config.model, config.max_length, ctx.progress)
        for split in ("train_unlabel", "test"):
            store.ensure_split(ctx.config.dataset, split, ctx.data_dir)
    result = train(config, rows, labels, ctx.out_dir / name, run_name=f"{name} {ctx.config.dataset} s{config.seed}")
    preds = predict_proba(result.classifier, ctx.test.rows, config.eval_batch_size, progress=ctx.progress)
    last = result.history[-1] if result.history else {}
    return preds, {f"{name}_train_s": result.wall_s, f"{name}_steps": result.steps,
                   f"{name}_final_agreement": float(last.get("agreement", float("nan"))), f"{name}_rows": len(rows)}


def groups_of(split: PublicSplit) -> list[str | None]:
    return group_ids(split.rows)


def group_ids(rows: Sequence[Row]) -> list[str | None]:
    """Each row's consistency group (None for preference rows and ungrouped binary rows)."""
    return [str(r.consistency_id) if isinstance(r, BinaryRow) and r.consistency_id is not None else None
            for r in rows]


def members_of(keys: Sequence[str | None]) -> list[list[int]]:
    """Row indices sharing each key, in first-seen order; rows keyed None belong to no group."""
    members: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        if key is not None:
            members[key].append(i)
    return list(members.values())


def consistency_fix(probs: np.ndarray, groups: Sequence[str | None]) -> np.ndarray:
    """In each consistency group the most likely candidate becomes True (1), the rest False (0).

    Rows without a group keep their thresholded prediction. Exactly one candidate per group is correct in the
    reference's binary datasets (one sentiment, one question type), which is what makes this fix valid.
    """
    hard = (np.asarray(probs) > 0.5).astype(np.float32)
    for idx in members_of(groups):
        hard[idx] = 0.0
        hard[idx[int(np.argmax(probs[idx]))]] = 1.0
    return hard


def group_normalize(probs: np.ndarray, groups: Sequence[str | None]) -> np.ndarray:
    """Soft version of `consistency_fix`: candidates of a group share probability mass 1 (rows w/o group kept)."""
    out = np.asarray(probs, dtype=np.float64).copy()
    for idx in members_of(groups):
        out[idx] = out[idx] / max(out[idx].sum(), 1e-9)
    return out.astype(np.float32)


def balance(labels: np.ndarray, seed: int) -> np.ndarray:
    """Indices with equal numbers of class-0 and class-1 hard labels (subsampling the larger class)."""
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(labels > 0.5), np.flatnonzero(labels <= 0.5)
    n = min(len(pos), len(neg))
    if n == 0:
        return np.arange(len(labels))
    keep = np.concatenate([rng.choice(pos, n, replace=False), rng.choice(neg, n, replace=False)])
    return np.sort(keep)
