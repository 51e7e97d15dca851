from __future__ import annotations

import math

import numpy as np
import pytest

from mcp_servers.grader import Calibration, PredictionError, SliceCalibration, pgr, score, slice_of
from mcp_servers.grader.datasets import HiddenLabels
from trainer.data import TaskType

LABELS = HiddenLabels("d", "test", TaskType.BINARY, ids=[f"r{i}" for i in range(6)], labels=[1, 0, 1, 0, 1, 1],
                      subsets=["id_a", "id_a", "ood_b", "ood_b", None, "other"], groups=[None] * 6)
CAL = Calibration(weak_acc=0.5, strong_acc=1.0, seeds=1, source="t", slices={"id": SliceCalibration(
    weak_acc=0.5, strong_acc=1.0)})


def test_score_overall_and_parts() -> None:
    scores = score([1, 0, 0, 0, 0.7, 0.2], LABELS, CAL)
    assert scores.kind == "probabilities" and math.isclose(scores.overall.accuracy, 4 / 6)
    assert math.isclose(scores.overall.pgr or 0, (4 / 6 - 0.5) / 0.5)
    assert scores.id is not None and scores.id.accuracy == 1.0 and scores.id.pgr == 1.0
    assert scores.ood is not None and scores.ood.accuracy == 0.5 and scores.ood.pgr is None
    assert "no ood numbers" in (scores.ood.pgr_note or "")


def test_mask_and_no_calibration() -> None:
    mask = np.array([True, True, False, False, False, False])
    scores = score([1, 1, 0, 0, 0, 0], LABELS, None, mask)
    assert scores.overall.n == 2 and scores.overall.accuracy == 0.5 and scores.ood is None
    assert scores.overall.pgr is None and "no calibration" in (scores.overall.pgr_note or "")
    assert score([1] * 6, LABELS, None).kind == "hard"


@pytest.mark.parametrize(("preds", "match"), [
    ([1] * 5, "expected 6 predictions"), ([1] * 5 + [math.nan], "not a finite"), ([1] * 5 + [math.inf], "finite"),
    ([1] * 5 + [3], "hard labels must be 0 or 1"), ([1] * 5 + [-0.1], "probabilities must lie"),
])
def test_bad_predictions(preds: list[float], match: str) -> None:
    with pytest.raises(PredictionError, match=match):
        score(preds, LABELS, CAL)


def test_helpers() -> None:
    assert [slice_of(s) for s in ("id_x", "OOD_y", "ood", "idiom", None)] == ["id", "ood", "ood", None, None]
    assert pgr(0.7, 0.6, 0.6) is None and pgr(0.75, 0.5, 1.0) == 0.5
