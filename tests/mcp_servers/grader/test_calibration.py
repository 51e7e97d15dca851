from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from mcp_servers.grader import Calibration, calibration_path, read_calibration, write_calibration


def test_roundtrip_and_missing(env: Any) -> None:
    root = env.settings.label_store
    assert read_calibration(root, "pref") is None
    cal = Calibration(weak_acc=0.5, strong_acc=0.8, weak_sem=0.01, seeds=4, source="unit")
    assert write_calibration(root, "pref", cal) == calibration_path(root, "pref")
    assert read_calibration(root, "pref") == cal
    with pytest.raises(FileNotFoundError):
        write_calibration(root, "absent", cal)


def test_schema_is_strict() -> None:
    with pytest.raises(ValidationError):
        Calibration(weak_acc=1.5, strong_acc=0.8, seeds=1, source="x")
    with pytest.raises(ValidationError):
        Calibration.model_validate({"weak_acc": 0.5, "strong_acc": 0.8, "seeds": 1, "source": "x", "extra": 1})
    with pytest.raises(ValidationError):
        Calibration(weak_acc=0.5, strong_acc=0.8, seeds=1, source="x", split="train_unlabel")
