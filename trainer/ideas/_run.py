"""Run an idea and write its submission-ready predictions file."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from trainer.ideas._registry import IdeaConfig, IdeaContext, IdeaResult, get_idea
from trainer.predictions import write_predictions as write_predictions_file


def write_predictions(path: Path, dataset: str, result: IdeaResult) -> Path:
    """`{dataset, split: "test", ids, predictions}` (trainer.predictions): what submit_predictions takes."""
    write_predictions_file(path, dataset, "test", list(result.ids), result.predictions)
    return path


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def run_idea(name: str, config: IdeaConfig, out_dir: Path, data_dir: Path | None = None, progress: bool = True) -> IdeaResult:
    """Run `name` with `config`; writes out_dir/predictions.json and out_dir/metrics.json."""
    spec = get_idea(name)
    if not isinstance(config, spec.config_cls):
        raise TypeError(f"idea {name!r} takes a {spec.config_cls.__name__}, got {type(config).__name__}")
    ctx = IdeaContext(config, out_dir, data_dir, progress)
    started = time.perf_counter()
    result = spec.run(config, ctx)
    if list(result.ids) != ctx.test.ids or len(result.predictions) != len(ctx.test):
        raise ValueError(f"idea {name!r} must return one prediction per test row, in test order")
    if not np.all(np.isfinite(result.predictions)) or result.predictions.min() < 0 or result.predictions.max() > 1:
        raise ValueError(f"idea {name!r} returned predictions outside [0, 1]")
    result.metrics.setdefault("wall_s", time.perf_counter() - started)
    write_predictions(out_dir / "predictions.json", config.dataset, result)
    meta = {"idea": name, "config": asdict(config), "metrics": result.metrics}
    (out_dir / "metrics.json").write_text(json.dumps(_jsonable(meta), indent=2, default=str) + "\n")
    return result
