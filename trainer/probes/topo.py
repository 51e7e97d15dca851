"""`topo`: topological filtering in the spirit of EleutherAI's TopoFilter.

Per weak class, build the kNN graph among rows of that class and keep its largest connected component (labels
in the dense core of their class are likely right; isolated rows sitting among the other class are suspect).
Kept rows get their kNN-smoothed label; dropped rows get the opposite of their weak label's smoothed value, so
`filter` mode removes them first and `relabel` mode flips them softly.
"""

from dataclasses import dataclass

import numpy as np

from trainer.probes._registry import knn_indices, register_probe


def _largest_component(neighbours: np.ndarray) -> np.ndarray:
    n = len(neighbours)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(n):
        for j in neighbours[i]:
            a, b = find(i), find(int(j))
            if a != b:
                parent[a] = b
    roots = np.array([find(i) for i in range(n)])
    return roots == np.bincount(roots).argmax()


@register_probe("topo")
@dataclass
class TopoProbe:
    k: int = 5
    """Neighbours per row in the per-class graph (small k: components stay meaningful)."""
    k_smooth: int = 20
    """Neighbours for the smoothed label of kept rows."""

    def __call__(self, features: np.ndarray, weak: np.ndarray) -> np.ndarray:
        weak = np.asarray(weak, dtype=np.float32)
        hard = weak > 0.5
        smooth = weak[knn_indices(features, self.k_smooth)].mean(axis=1)
        core = np.zeros(len(weak), dtype=bool)
        for cls in (False, True):
            idx = np.flatnonzero(hard == cls)
            if len(idx) > self.k:
                core[idx[_largest_component(knn_indices(features[idx], self.k))]] = True
            else:
                core[idx] = True
        return np.where(core, smooth, 1.0 - weak).astype(np.float32)
