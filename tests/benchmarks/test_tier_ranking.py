"""The tier ranking at a tiny size: two ideas run by `w2s run` on both tiers (minilm-l6, a step or two, the tiny
sentiment testbed), then the table is what those runs' predictions score against the label store."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.trainer.trainer_helpers import TINY
from trainer.cli import app

IDEAS = ("vanilla_w2s", "train_only_on_confident_labels")


def _accuracy(run: Path, truth: dict[str, int]) -> float:
    payload = json.loads((run / "predictions.json").read_text())
    return float(np.mean([(p >= 0.5) == bool(truth[i]) for i, p in zip(payload["ids"], payload["predictions"],
                                                                       strict=True)]))


@pytest.mark.slow  # four tiny runs of minilm-l6 (two on the LoRA tier): about a minute on 2 busy cores
@pytest.mark.timeout(600)
def test_tiny_tier_ranking_is_what_the_runs_score(run_bench: Callable[..., str], tmp_path: Path) -> None:
    from mcp_servers.grader.datasets import LabelStore
    from mcp_servers.grader.datasets._build import build_testbed
    from trainer import paths

    build_testbed("sentiment", "tiny", seed=0)
    sets = [x for key, value in TINY.items() if key != "strong.tier" for x in ("--set", f"{key}={json.dumps(value)}")]
    for tier in ("head", "lora"):
        for idea in IDEAS:
            done = CliRunner().invoke(app, ["run", "--idea", idea, "--dataset", "sentiment", "--seeds", "0,1", "--quiet",
                                            "--out", str(tmp_path / tier), *sets, "--set", f"strong.tier={tier}"])
            assert done.exit_code == 0, done.output
    out = run_bench("tier_ranking.py", "--dataset", "sentiment", "--pair", f"{tmp_path / 'head'}:{tmp_path / 'lora'}",
                    timeout=300)
    labels = LabelStore(paths().label_store_dir).load("sentiment", "test")
    truth = dict(zip(labels.ids, labels.labels, strict=True))
    for idea in IDEAS:
        row = re.search(rf"^\| {idea} \| 2 \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| (\d+)x \|$", out, re.MULTILINE)
        assert row, out
        for tier, shown in (("head", row[1]), ("lora", row[2])):
            runs = [tmp_path / tier / idea / "sentiment" / f"seed{s}" for s in (0, 1)]
            assert float(shown) == pytest.approx(np.mean([_accuracy(r, truth) for r in runs]), abs=1e-4)
    rho = re.search(r"sentiment: Spearman rank correlation of accuracies head vs lora: (nan|-?[\d.]+) over 2 candidates",
                    out)
    assert rho and (math.isnan(float(rho[1])) or -1 <= float(rho[1]) <= 1), out
