"""Probes on frozen strong features (EleutherAI w2s): each entry its own file, registered by name.

A probe is a dataclass called as `probe(features [N, D], weak [N] = P(class 1)) -> np.ndarray [N]`, its own
estimate of P(class 1) for every row, computed without the row's own label where that matters (kNN excludes the
row itself, logreg is cross-fitted). `apply_probe` turns that estimate into one of two uses:
- relabel: train on the probe's labels instead of the weak ones;
- filter: drop the `contamination` fraction of rows where probe and weak label disagree most.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

import numpy as np

from trainer._registry import Registry, construct


class Probe(Protocol):
    def __call__(self, features: np.ndarray, weak: np.ndarray) -> np.ndarray: ...


P = TypeVar("P")
PROBES: Registry[type] = Registry("probe", package="trainer.probes")
"""Every module of this package is an entry; importing it registers it (no list to edit)."""


def register_probe(name: str) -> Callable[[type[P]], type[P]]:
    return PROBES.register(name)


def registered_probes() -> dict[str, type]:
    return PROBES.as_dict()


def make_probe(name: str, **params: Any) -> Probe:
    """Build a probe by name; unknown names and parameters get an error listing what exists."""
    probe: Probe = construct(PROBES, name, **params)
    return probe


@dataclass
class ProbeOutcome:
    indices: np.ndarray
    """Rows to train on (all rows for relabel)."""
    labels: np.ndarray
    """P(class 1) for those rows."""
    probe: np.ndarray
    """The probe's estimate for every row (for metrics)."""


def apply_probe(
    probe: Probe, features: np.ndarray, weak: np.ndarray, mode: Literal["relabel", "filter"], contamination: float = 0.1
) -> ProbeOutcome:
    estimate = np.asarray(probe(features, weak), dtype=np.float32)
    if mode == "relabel":
        return ProbeOutcome(np.arange(len(weak)), estimate, estimate)
    if mode != "filter":
        raise ValueError(f"probe mode must be relabel or filter, not {mode!r}")
    disagreement = np.abs(estimate - weak)
    n_keep = max(1, round(len(weak) * (1 - contamination)))
    keep = np.sort(np.argsort(disagreement, kind="stable")[:n_keep])
    return ProbeOutcome(keep, weak[keep], estimate)


@dataclass
class PerKeyProbe:
    """Runs `inner` separately on the rows of each key; a key with fewer than `min_rows` rows keeps its weak labels.

    Grouped binary rows need this: the same text appears once per candidate answer with opposite labels, so in a
    shared feature space a row's nearest neighbour is its own twin and every probe learns the answer, not the text.
    Per answer key, features are the texts and the weak label says whether this answer fits them.
    """

    inner: Probe
    keys: list[str]
    min_rows: int = 4

    def __call__(self, features: np.ndarray, weak: np.ndarray) -> np.ndarray:
        if len(self.keys) != len(weak):
            raise ValueError(f"{len(self.keys)} keys for {len(weak)} rows")
        weak = np.asarray(weak, dtype=np.float32)
        out = weak.copy()
        members: dict[str, list[int]] = {}
        for i, key in enumerate(self.keys):
            members.setdefault(key, []).append(i)
        for idx in map(np.asarray, members.values()):
            if len(idx) >= self.min_rows:
                out[idx] = self.inner(features[idx], weak[idx])
        return out


def normalize(features: np.ndarray) -> np.ndarray:
    """Unit rows, so dot products are cosine similarities (what sentence encoders are trained for)."""
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return features / np.maximum(norms, 1e-8)


def knn_indices(features: np.ndarray, k: int) -> np.ndarray:
    """[N, k] nearest neighbours by cosine, excluding the row itself."""
    x = normalize(features.astype(np.float32))
    sims = x @ x.T
    np.fill_diagonal(sims, -np.inf)
    k = min(k, len(x) - 1)
    return np.argpartition(-sims, kth=max(k - 1, 0), axis=1)[:, :k]
