"""`logreg`: cross-fitted logistic regression from frozen features to hard weak labels (out-of-fold P(class 1))."""

from dataclasses import dataclass

import numpy as np

from trainer.probes._registry import normalize, register_probe


@register_probe("logreg")
@dataclass
class LogRegProbe:
    folds: int = 5
    """Each row is scored by a model that never saw its label."""
    c: float = 1.0
    """Inverse L2 strength."""
    seed: int = 0

    def __call__(self, features: np.ndarray, weak: np.ndarray) -> np.ndarray:
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold

        x, y = normalize(features), (np.asarray(weak) > 0.5).astype(int)
        out = np.full(len(y), float(y.mean()), dtype=np.float32)
        if y.min() == y.max():
            return out
        folds = min(self.folds, int(np.bincount(y).min()))
        if folds < 2:
            return out
        for train, held in StratifiedKFold(folds, shuffle=True, random_state=self.seed).split(x, y):
            model = LogisticRegression(C=self.c, max_iter=1000).fit(x[train], y[train])
            out[held] = model.predict_proba(x[held])[:, 1]
        return out
