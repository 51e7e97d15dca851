"""Statistics the benchmarks share."""

from __future__ import annotations

import numpy as np


def spearman(x: list[float], y: list[float]) -> float:
    """Rank correlation (average ranks for ties); nan when either side ranks everything alike."""

    def ranks(v: list[float]) -> np.ndarray:
        arr = np.asarray(v, dtype=np.float64)
        order = arr.argsort()
        out = np.empty(len(arr))
        out[order] = np.arange(len(arr), dtype=np.float64)
        for value in np.unique(arr):
            tie = arr == value
            out[tie] = out[tie].mean()
        return out

    rx, ry = ranks(x), ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])
