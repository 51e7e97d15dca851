"""`knn`: each row's label is the mean weak label of its k nearest neighbours (itself excluded)."""

from dataclasses import dataclass

import numpy as np

from trainer.probes._registry import knn_indices, register_probe


@register_probe("knn")
@dataclass
class KnnProbe:
    k: int = 20
    """Neighbours averaged; larger smooths more."""

    def __call__(self, features: np.ndarray, weak: np.ndarray) -> np.ndarray:
        return np.asarray(weak, dtype=np.float32)[knn_indices(features, self.k)].mean(axis=1)
