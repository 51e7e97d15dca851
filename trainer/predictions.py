"""The one predictions file: `{dataset, split, ids, predictions}` with one P(class 1) per row, in file order.

Every writer (idea runs, predict jobs) and every reader (train-server label sources, the predict server, the
grader's results table) goes through this module, so a row means the same thing everywhere: it counts as class 1
when its probability is >= 0.5 (`THRESHOLD`; the grader scores by the same rule, so an exact 0.5 is 1).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

THRESHOLD = 0.5
"""A probability counts as class 1 when it is >= THRESHOLD."""


def hard_labels(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """0/1 per row: 1 where the probability is >= 0.5 (the grader's rule, used everywhere)."""
    return (np.asarray(values, dtype=np.float64) >= THRESHOLD).astype(np.int8)


class PredictionsFile(BaseModel):
    """One predictions file as written to disk and answered over MCP."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    dataset: str = Field(min_length=1, max_length=256)
    split: str = Field(min_length=1, max_length=64)
    ids: list[str]
    predictions: list[float] = Field(description="P(class 1) per row, in the public file's order")

    @model_validator(mode="after")
    def _aligned(self) -> PredictionsFile:
        if len(self.ids) != len(self.predictions):
            raise ValueError(f"{len(self.ids)} ids but {len(self.predictions)} predictions")
        for i, p in enumerate(self.predictions):
            if not (math.isfinite(p) and 0.0 <= p <= 1.0):
                raise ValueError(f"prediction {i} (id {self.ids[i]!r}) is {p}, not a probability in [0, 1]")
        return self

    def hard(self) -> list[int]:
        return hard_labels(self.predictions).tolist()


class PredictionsFormatError(ValueError):
    """A file that is not a predictions file; the message says what was wrong."""


def make_predictions(dataset: str, split: str, ids: Sequence[str],
                     predictions: Sequence[float] | np.ndarray) -> PredictionsFile:
    values = np.clip(np.asarray(predictions, dtype=np.float64), 0.0, 1.0)
    try:
        return PredictionsFile(dataset=dataset, split=split, ids=[str(i) for i in ids],
                               predictions=[round(float(p), 6) for p in values])
    except ValidationError as exc:
        raise PredictionsFormatError(_first_error(exc)) from None


def write_predictions(path: Path, dataset: str, split: str, ids: Sequence[str],
                      predictions: Sequence[float] | np.ndarray) -> PredictionsFile:
    """Write `path` (parents created); the stored values are rounded to 6 digits and clipped to [0, 1]."""
    payload = make_predictions(dataset, split, ids, predictions)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(payload.model_dump_json() + "\n")
    return payload


def parse_predictions(data: bytes | str) -> PredictionsFile:
    """Parse the bytes of a predictions file (hosts read them with a safe open and pass the bytes here)."""
    try:
        raw = json.loads(data)
    except ValueError as exc:
        raise PredictionsFormatError(f"not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise PredictionsFormatError("expected a JSON object with dataset, split, ids and predictions")
    try:
        return PredictionsFile.model_validate(raw)
    except ValidationError as exc:
        raise PredictionsFormatError(_first_error(exc)) from None


def read_predictions(path: Path) -> PredictionsFile:
    """Read a predictions file the caller owns (inside a sandbox, or the operator's own runs folder)."""
    return parse_predictions(path.read_bytes())


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ()))
    return f"{where}: {err['msg']}" if where else str(err["msg"])
