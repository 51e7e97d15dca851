"""Fitness from what the agent may see: accuracy of the student on train_label (its public labels; the student never
trains on those rows, the weak model does), and, where no train_label predictions exist, unsupervised signals of
the test predictions (consistency within consistency groups, confidence). The grader is never a fitness signal:
it is asked only about candidates that already won here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from orchestrator.agents.evolve._space import POSTPROCESS


@dataclass
class Fitness:
    value: float
    """What selection compares (higher is better)."""
    label_accuracy: float | None
    """Accuracy on train_label after the genome's postprocess (None when no train_label predictions came back)."""
    consistency: float | None
    """1 - mean |sum of a group's probabilities - 1| on test (None without groups)."""
    confidence: float
    """Mean |2p - 1| on test."""
    source: str
    """train_label or unsupervised."""

    def to_dict(self) -> dict[str, float | str | None]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def groups_of(rows: Sequence[object]) -> list[str | None]:
    """Each row's consistency group (None for preference rows and ungrouped binary rows)."""
    out: list[str | None] = []
    for row in rows:
        group = getattr(row, "consistency_id", None)
        out.append(None if group is None else str(group))
    return out


def _members(groups: Sequence[str | None]) -> list[list[int]]:
    members: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        if g is not None:
            members.setdefault(g, []).append(i)
    return [idx for idx in members.values() if len(idx) > 1]


def postprocess(probs: Sequence[float] | np.ndarray, groups: Sequence[str | None], how: str) -> np.ndarray:
    """Apply a genome's label transformation to P(class 1) per row (rows without a group are left as they are)."""
    if how not in POSTPROCESS:
        raise ValueError(f"unknown postprocess {how!r}; use one of {POSTPROCESS}")
    p = np.clip(np.asarray(probs, dtype=np.float64), 0.0, 1.0)
    if how == "none":
        return p
    out = p.copy()
    for idx in _members(groups):
        if how == "group_normalize":
            out[idx] = p[idx] / max(float(p[idx].sum()), 1e-9)
        else:
            out[idx] = 0.0
            out[idx[int(np.argmax(p[idx]))]] = 1.0
    return out


def consistency(probs: np.ndarray, groups: Sequence[str | None]) -> float | None:
    members = _members(groups)
    if not members:
        return None
    return float(1.0 - np.mean([min(1.0, abs(float(probs[idx].sum()) - 1.0)) for idx in members]))


def accuracy(probs: np.ndarray, targets: Sequence[int]) -> float:
    return float(np.mean((np.asarray(probs) > 0.5).astype(int) == np.asarray(targets, dtype=int)))


def fitness(test_probs: Sequence[float], test_groups: Sequence[str | None], how: str,
            label_probs: Sequence[float] | None = None, label_targets: Sequence[int] | None = None,
            label_groups: Sequence[str | None] | None = None) -> Fitness:
    """The genome's fitness; train_label accuracy dominates when it is known, the unsupervised terms break ties."""
    test = postprocess(test_probs, test_groups, how)
    raw = np.clip(np.asarray(test_probs, dtype=np.float64), 0.0, 1.0)
    cons = consistency(raw, test_groups)
    conf = float(np.mean(np.abs(2 * test - 1))) if len(test) else 0.0
    unsupervised = 0.5 * (cons if cons is not None else conf) + 0.5 * conf
    if label_probs is not None and label_targets is not None:
        if len(label_probs) != len(label_targets):
            raise ValueError(f"{len(label_probs)} train_label predictions for {len(label_targets)} labels")
        fixed = postprocess(label_probs, label_groups or [None] * len(label_probs), how)
        acc = accuracy(fixed, label_targets)
        return Fitness(acc + 1e-3 * unsupervised, acc, cons, conf, "train_label")
    return Fitness(unsupervised, None, cons, conf, "unsupervised")
