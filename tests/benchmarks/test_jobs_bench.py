"""The jobs benchmark at a tiny size (one latency job of each kind, one 1-step training job per mode): every job
succeeds in a real bwrap sandbox, and the ratios it prints are those of its own figures."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.skips import require_bwrap


@pytest.mark.slow  # a forkserver importing torch, sandboxed torch imports, tiny trainings: 144 s on 2 busy cores
@pytest.mark.timeout(600)
def test_tiny_jobs_bench_reports_latencies_and_runner_ratios(run_bench: Callable[..., str]) -> None:
    require_bwrap()
    out = run_bench("jobs_bench.py", "--latency-jobs", "1", "--jobs", "1", "--steps", "1", "--slots", "1",
                    timeout=540)
    figures = json.loads(out[out.index("{"):])
    assert figures["backend"] == "bwrap"
    latency = figures["start_latency"]
    before = latency["before_forkserver_start_s"]["median_s"]
    for kind in ("now_bwrap_noop_job_s", "now_bwrap_torch_import_job_s"):
        assert 0 < latency[kind]["median_s"] <= latency[kind]["max_s"], latency
    assert latency["ratio_noop_now_vs_before"] == pytest.approx(
        latency["now_bwrap_noop_job_s"]["median_s"] / before, rel=0.1, abs=0.1)
    assert latency["now_bwrap_torch_import_job_s"]["import_median_s"] > 0  # the job really imported torch
    sequential, runner = figures["one_process_sequential_s"], figures["runner_slots1_s"]
    assert sequential > 0 and runner > 0
    assert figures["runner_slots1_vs_sequential"] == pytest.approx(runner / sequential, rel=0.05, abs=0.01)
