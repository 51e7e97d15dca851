"""The training benchmark at a tiny size (smollm2-135m, 8 rows, one step, one run of each variant): both the lean
loop and the transformers Trainer train, and the ratios it prints are those of its own figures."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest


@pytest.mark.slow  # two subprocesses each loading a 135M causal LM: about a minute on 2 cores
@pytest.mark.timeout(600)
def test_tiny_train_bench_ratio_is_its_own_figures(run_bench: Callable[..., str]) -> None:
    out = run_bench("train_bench.py", "--model", "smollm2-135m", "--rows", "8", "--steps", "1", "--batch", "4",
                    "--max-length", "64", "--repeats", "1", timeout=540)
    figures = json.loads(out[out.index("{"):])
    assert (figures["model"], figures["steps"], figures["batch"], figures["repeats"]) == ("smollm2-135m", 1, 4, 1)
    lean, trainer = figures["lean"], figures["trainer"]
    for variant in (lean, trainer):
        assert len(variant["examples_per_s"]) == 1 and variant["examples_per_s"][0] > 0
        assert variant["examples_per_s_median"] == variant["examples_per_s"][0] and variant["peak_mb_max"] > 0
    ratio = lean["examples_per_s_median"] / trainer["examples_per_s_median"]
    assert figures["pair_ratios"] == [pytest.approx(ratio)]
    assert figures["throughput_ratio_lean_over_trainer"] == pytest.approx(ratio)
