"""Pure scoring: predictions vs hidden labels -> accuracy and PGR, overall and for the ID and OOD parts.

No I/O, no rounding, no integrity rules: the grader server adds those; the operator side (private scoring, the
trainer's results table) calls `score` directly. Predictions are one value per row of the public test file, in
file order: hard labels 0/1 or probabilities of class 1 (preference: "B" better; binary: the choice is correct);
a prediction counts as 1 when it is >= 0.5.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel

from mcp_servers.grader._calibration import Calibration, SliceName
from mcp_servers.grader.datasets import HiddenLabels
from trainer.predictions import hard_labels  # the one rule (>= 0.5 is 1), for the grader's modules

SLICES: tuple[SliceName, ...] = ("id", "ood")
MIN_GAP = 1e-3
"""Below this strong-minus-weak gap PGR is not defined (division by almost zero)."""


class PredictionError(ValueError):
    """Predictions that cannot be scored; the message says what to send instead."""


class SliceScore(BaseModel):
    n: int
    accuracy: float
    pgr: float | None
    pgr_note: str | None = None


class Scores(BaseModel):
    overall: SliceScore
    id: SliceScore | None = None
    ood: SliceScore | None = None
    kind: str
    """"hard" (all 0/1) or "probabilities"."""


def slice_of(subset: str | None) -> SliceName | None:
    """`id_*` subsets are in-distribution, `ood_*` out-of-distribution; others belong to neither."""
    if not subset:
        return None
    low = subset.lower()
    if low == "id" or low.startswith("id_"):
        return "id"
    if low == "ood" or low.startswith("ood_"):
        return "ood"
    return None


def slice_array(labels: HiddenLabels) -> np.ndarray:
    """The part ("id", "ood" or None) of every row."""
    return np.array([slice_of(s) for s in labels.subsets], dtype=object)


def validate_predictions(predictions: Sequence[float] | np.ndarray, n: int) -> np.ndarray:
    """Float64 array of `n` finite values in [0, 1], or `PredictionError` naming the first bad entry."""
    if len(predictions) != n:
        raise PredictionError(
            f"expected {n} predictions (one per row of test.jsonl, in file order), got {len(predictions)}")
    try:
        values = np.asarray(predictions, dtype=np.float64)
    except (TypeError, ValueError):
        raise PredictionError("predictions must be numbers: 0/1 labels or probabilities of class 1") from None
    if values.ndim != 1:
        raise PredictionError("predictions must be a flat list of numbers, one per test row")
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise PredictionError(f"prediction {bad[0]} is not a finite number; send 0/1 or a probability in [0, 1]")
    bad = np.flatnonzero((values < 0) | (values > 1))
    if bad.size:
        value = values[bad[0]]
        what = "hard labels must be 0 or 1" if float(value).is_integer() else "probabilities must lie in [0, 1]"
        raise PredictionError(f"prediction {bad[0]} is {value:g}: {what}")
    return values


def prediction_kind(values: np.ndarray) -> str:
    return "hard" if bool(np.all((values == 0) | (values == 1))) else "probabilities"


def pgr(accuracy: float, weak_acc: float, strong_acc: float) -> float | None:
    gap = strong_acc - weak_acc
    if gap < MIN_GAP:
        return None
    return (accuracy - weak_acc) / gap


def _slice(correct: np.ndarray, calibration: tuple[float, float] | None, missing: str) -> SliceScore:
    accuracy = float(correct.mean()) if correct.size else math.nan
    if calibration is None:
        return SliceScore(n=int(correct.size), accuracy=accuracy, pgr=None, pgr_note=missing)
    value = pgr(accuracy, *calibration)
    note = None if value is not None else "strong_acc - weak_acc is too small for PGR to be defined"
    return SliceScore(n=int(correct.size), accuracy=accuracy, pgr=value, pgr_note=note)


def score(
    predictions: Sequence[float] | np.ndarray,
    labels: HiddenLabels,
    calibration: Calibration | None,
    mask: np.ndarray | None = None,
    slices: np.ndarray | None = None,
) -> Scores:
    """Score the rows selected by `mask` (default all); predictions cover every row of the split.

    `slices` (optional) is `slice_arrays(labels)` computed once, for callers that score many times.
    """
    values = validate_predictions(predictions, len(labels))
    truth = np.asarray(labels.labels, dtype=np.int8)
    keep = np.ones(len(labels), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if not keep.any():
        raise PredictionError("no rows selected to score")
    correct = hard_labels(values) == truth
    no_cal = f"no calibration for {labels.dataset} yet (the operator runs the calibration command)"
    overall_cal = None if calibration is None else (calibration.weak_acc, calibration.strong_acc)
    result = Scores(overall=_slice(correct[keep], overall_cal, no_cal), kind=prediction_kind(values))
    if slices is None:
        slices = slice_array(labels)
    for name in SLICES:
        rows = keep & (slices == name)
        if not rows.any():
            continue
        cal = None if calibration is None else calibration.slices.get(name)
        note = no_cal if calibration is None else f"the calibration of {labels.dataset} has no {name} numbers"
        setattr(result, name, _slice(correct[rows], None if cal is None else (cal.weak_acc, cal.strong_acc), note))
    return result
