"""trainer.predictions: the one file format and the one hard-label rule (>= 0.5 is class 1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mcp_servers.grader._scoring import hard_labels as grader_hard_labels
from trainer.predictions import (
    PredictionsFormatError,
    hard_labels,
    parse_predictions,
    read_predictions,
    write_predictions,
)


def test_an_exact_half_is_class_one_everywhere() -> None:
    values = np.array([0.0, 0.4999999, 0.5, 0.5000001, 1.0])
    assert hard_labels(values).tolist() == [0, 0, 1, 1, 1]
    assert grader_hard_labels(values).tolist() == hard_labels(values).tolist()


def test_write_then_read_round_trips(tmp_path: Path) -> None:
    written = write_predictions(tmp_path / "a" / "predictions.json", "sentiment", "test", ["x", "y"],
                                np.array([0.5, 0.1234567]))
    back = read_predictions(tmp_path / "a" / "predictions.json")
    assert back == written and back.predictions == [0.5, 0.123457] and back.hard() == [1, 0]


@pytest.mark.parametrize(("text", "needle"), [
    ("nope", "not JSON"),
    ("[1, 2]", "JSON object"),
    ('{"dataset": "d", "split": "test", "ids": ["a"], "predictions": [0.1, 0.2]}', "1 ids but 2 predictions"),
    ('{"dataset": "d", "split": "test", "ids": ["a"], "predictions": [1.5]}', "not a probability"),
    ('{"dataset": "d", "ids": ["a"], "predictions": [0.5]}', "split"),
])
def test_bad_files_say_what_is_wrong(text: str, needle: str) -> None:
    with pytest.raises(PredictionsFormatError, match=needle):
        parse_predictions(text)
