"""The training job bodies refuse a max_length the model cannot encode at their start, before any data or
weights are loaded (it used to fail deep inside, after the weak model had trained)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from trainer.classifier import MaxLengthError
from trainer.jobs import JobContext
from trainer.jobs._protocol import EventWriter
from trainer.jobs.train import run_idea_job, run_sft_job, run_weak_job


def _context(tmp_path: Path) -> tuple[JobContext, io.StringIO]:
    events = io.StringIO()
    run_dir = tmp_path / "runs" / "train-0123456789ab"
    run_dir.mkdir(parents=True)
    return JobContext(job_id="train-0123456789ab", agent="a1", workspace=tmp_path, run_dir=run_dir,
                      events=EventWriter(events), log=logging.getLogger("test")), events


TOO_LONG = {"model": "minilm-l6", "max_length": 131072}


@pytest.mark.parametrize(("job", "spec", "field"), [
    (run_idea_job, {"idea": "vanilla_w2s", "dataset": "tiny", "config": {"strong": TOO_LONG}}, "strong.max_length"),
    (run_idea_job, {"idea": "vanilla_w2s", "dataset": "tiny", "config": {"weak": TOO_LONG}}, "weak.max_length"),
    (run_sft_job, {"dataset": "no-such-dataset", "split": "train_label", "labels": [], "hard_labels": False,
                   "config": TOO_LONG}, "max_length"),
    (run_weak_job, {"dataset": "tiny", "config": TOO_LONG}, "max_length"),
])
def test_a_max_length_past_the_models_positions_ends_the_job_at_its_start(
        tiny_home: Path, tmp_path: Path, job: Callable[[dict[str, Any], JobContext], dict[str, Any]],
        spec: dict[str, Any], field: str) -> None:
    ctx, events = _context(tmp_path)
    with pytest.raises(MaxLengthError) as caught:
        job(spec, ctx)
    assert str(caught.value).startswith(f"{field} 131072 is past what minilm-l6 can encode: 512 tokens per input")
    # nothing ran: no progress reported, nothing written, no weak artifact built
    assert [json.loads(line) for line in events.getvalue().splitlines()] == []
    assert list(ctx.run_dir.iterdir()) == []
    assert not (tiny_home / "public" / "artifacts").exists() or not any((tiny_home / "public" / "artifacts").iterdir())
