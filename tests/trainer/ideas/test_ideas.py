"""Every baseline runs end to end on tiny public data and writes a submission-ready predictions file."""

import json
from pathlib import Path

import numpy as np
import pytest

from tests.trainer.trainer_helpers import TINY
from trainer.data import load_split
from trainer.ideas import make_config, run_idea

CASES = [
    ("vanilla_w2s", "tiny", {}),
    ("train_only_on_confident_labels", "tiny", {"min_rows": 4}),
    ("ue_zeroshot", "tiny", {}),
    ("ue_zeroshot", "tinypref", {"sft": False}),
    ("ue_fewshot", "tiny", {"shots": (2, 4)}),
    ("ue_fewshot", "tinypref", {"shots": (2,)}),
    ("probe_w2s", "tiny", {"probe": "topo", "mode": "filter"}),
    ("probe_w2s", "tinypref", {"mode": "relabel"}),
    ("template", "tinypref", {}),
    # Generation + judge + one GRPO step of SmolLM2: about 4 minutes on 2 busy cores, so slow-marked.
    pytest.param("critic", "tiny", {"max_new_tokens": 6, "grpo_steps": 1, "grpo_rows": 2, "num_generations": 2,
                                    "label_rows": 6, "unlabel_rows": 6},
                 marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("idea", "dataset", "extra"), CASES)
def test_idea_runs(idea: str, dataset: str, extra: dict, tiny_home: Path, tmp_path: Path) -> None:
    config = make_config(idea, dataset=dataset, seed=0, **TINY, **extra)
    result = run_idea(idea, config, tmp_path / idea, progress=False)
    test = load_split(dataset, "test")
    payload = json.loads((tmp_path / idea / "predictions.json").read_text())
    assert payload["dataset"] == dataset and payload["split"] == "test" and payload["ids"] == test.ids
    assert len(payload["predictions"]) == len(test) and np.all(np.isfinite(result.predictions))
    assert "wall_s" in json.loads((tmp_path / idea / "metrics.json").read_text())["metrics"]
