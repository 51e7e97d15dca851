"""The calibration file: the fixed weak and strong accuracies PGR is measured against, one per dataset.

    <label_store>/<dataset>/calibration.json
    {
      "weak_acc": 0.743,        # weak model trained on train_label, mean test accuracy over seeds
      "strong_acc": 0.859,      # strong model trained on ground truth (the ceiling), mean over seeds
      "weak_sem": 0.004,        # standard errors of those means (null if one seed)
      "strong_sem": 0.003,
      "seeds": 5,
      "source": "w2s-admin results calibrate {\"weak.model\": \"minilm-l6\"}",
      "split": "test",          # the split the accuracies were measured on (full split, both parts)
      "slices": {"id": {"weak_acc": 0.75, "strong_acc": 0.87}, "ood": {"weak_acc": 0.70, "strong_acc": 0.80}},
      "gap_warning": null,      # a sentence when ceiling - weak is too small against the seeds' noise
      "created_at": "2026-01-01T00:00:00+00:00"
    }

`slices` is optional; without it the ID and OOD parts get accuracy but a null PGR with a reason. The file sits in
the label store because it is derived from hidden labels; the trainer's calibration command writes it with
`write_calibration`, the grader reads it with `read_calibration` on every request (it is tiny).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mcp_servers.grader.datasets._store import CALIBRATION_FILE

SliceName = Literal["id", "ood"]


class SliceCalibration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weak_acc: float = Field(ge=0, le=1)
    strong_acc: float = Field(ge=0, le=1)


class Calibration(BaseModel):
    """Fixed reference accuracies of one dataset (see the module docstring for the file)."""

    model_config = ConfigDict(extra="forbid")

    weak_acc: float = Field(ge=0, le=1)
    strong_acc: float = Field(ge=0, le=1)
    weak_sem: float | None = Field(default=None, ge=0)
    strong_sem: float | None = Field(default=None, ge=0)
    seeds: int = Field(ge=1)
    source: str
    split: str = "test"
    slices: dict[SliceName, SliceCalibration] = Field(default_factory=dict)
    gap_warning: str | None = None
    """Set by calibration when ceiling minus weak is too small against the seeds' noise for PGR to mean anything."""
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @model_validator(mode="after")
    def _test_only(self) -> Calibration:
        if self.split != "test":
            raise ValueError("calibration is measured on the test split")
        return self


def calibration_path(label_store: Path, dataset: str) -> Path:
    return label_store / dataset / CALIBRATION_FILE


def read_calibration(label_store: Path, dataset: str) -> Calibration | None:
    """The dataset's calibration, or None when it has not been measured yet."""
    path = calibration_path(label_store, dataset)
    if not path.is_file():
        return None
    return Calibration.model_validate_json(path.read_text())


def write_calibration(label_store: Path, dataset: str, calibration: Calibration) -> Path:
    """Write atomically (the grader may be reading); the dataset must already be in the label store."""
    folder = label_store / dataset
    if not (folder / "meta.json").is_file():
        raise FileNotFoundError(f"dataset {dataset!r} is not in the label store {label_store}")
    path = folder / CALIBRATION_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(calibration.model_dump(mode="json"), indent=2, sort_keys=True) + "\n")
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return path
