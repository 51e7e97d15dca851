"""The prediction benchmark at a tiny size, so its consistency check (batched sorted == per-example == batched
unsorted) keeps holding and the figures docs/trainer.md quotes stay reproducible."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest


def test_tiny_predict_bench_agrees_and_reports_ratios(run_bench: Callable[..., str]) -> None:
    out = run_bench("predict_bench.py", "--rows", "12", "--batch", "4")
    figures = json.loads(out[out.index("{"):])
    assert figures["rows"] == 12 and figures["batch"] == 4
    sorted_s = figures["batched_sorted_s"]
    assert sorted_s > 0 and figures["per_example_s"] > 0 and figures["batched_unsorted_s"] > 0
    assert figures["speedup_vs_per_example"] == pytest.approx(figures["per_example_s"] / sorted_s)
    assert figures["speedup_vs_unsorted"] == pytest.approx(figures["batched_unsorted_s"] / sorted_s)
