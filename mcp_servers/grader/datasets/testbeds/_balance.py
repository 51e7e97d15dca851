"""Sampling that leaves no shortcut: equal classes, matched lengths, shuffled positions, opaque group ids."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LabeledText:
    text: str
    label: int
    """1 for the positive class of the source (e.g. a positive review)."""


def length_matched_pairs(items: Sequence[LabeledText], n_pairs: int, rng: random.Random, bins: int = 10) -> list[
    tuple[LabeledText, LabeledText]
]:
    """`n_pairs` (positive, negative) pairs drawn within the same length bin, so length predicts nothing."""
    ordered = sorted(items, key=lambda item: len(item.text))
    size = max(1, len(ordered) // bins)
    buckets = [ordered[i : i + size] for i in range(0, len(ordered), size)]
    available: list[list[tuple[LabeledText, LabeledText]]] = []
    for bucket in buckets:
        pos = [item for item in bucket if item.label == 1]
        neg = [item for item in bucket if item.label == 0]
        rng.shuffle(pos)
        rng.shuffle(neg)
        available.append(list(zip(pos, neg, strict=False)))
    total = sum(len(pairs) for pairs in available)
    if total < n_pairs:
        raise ValueError(f"only {total} length-matched pairs available, {n_pairs} requested; choose a smaller size")
    # Take from every bin in proportion to what it offers, then top up the remainder from bins with spare pairs.
    quota = [len(pairs) * n_pairs // total for pairs in available]
    spare = [i for i, pairs in enumerate(available) if len(pairs) > quota[i]]
    rng.shuffle(spare)
    for i in spare[: n_pairs - sum(quota)]:
        quota[i] += 1
    chosen = [pair for pairs, k in zip(available, quota, strict=True) for pair in pairs[:k]]
    rng.shuffle(chosen)
    return chosen


def group_id(namespace: str, text: str, seed: int) -> str:
    """An opaque, stable group id: it carries nothing about the label or the source order."""
    return hashlib.sha256(f"{namespace}|{seed}|{text}".encode()).hexdigest()[:12]


def shuffle_groups(rows: list[dict[str, Any]], rng: random.Random) -> None:
    """Shuffle consistency groups in place, keeping each group's rows adjacent and in their (random) order."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(str(row["consistency_id"]), []).append(row)
    order = list(groups.values())
    rng.shuffle(order)
    rows[:] = [row for group in order for row in group]
