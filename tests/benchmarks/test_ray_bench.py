"""The Ray benchmark at a tiny size (2 agents x 1 sleep job, one worker node): both runners finish every job in a
real bwrap sandbox, and the ratios it prints are those of its own figures."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.skips import require_bwrap

pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]'; dev includes it)")


@pytest.mark.timeout(600)  # 22 s here; a Ray cluster starts slower on a loaded machine
def test_tiny_ray_bench_runs_every_job_on_both_runners(run_bench: Callable[..., str]) -> None:
    require_bwrap()
    out = run_bench("ray_bench.py", "--agents", "2", "--jobs-per-agent", "1", "--seconds", "0.2", "--slots", "1",
                    timeout=540)
    figures = json.loads(out[out.index("{"):])
    local, ray = figures["local"], figures["ray"]
    for runner in (local, ray):
        assert runner["jobs"] == 2 and runner["slots"] == 1, figures
        assert runner["makespan_s"] >= 0.2 and runner["wait_max_s"] >= runner["wait_mean_s"] >= 0, figures
        assert runner["jobs_per_s"] == pytest.approx(2 / runner["makespan_s"], rel=0.05), figures
    assert ray["nodes"] == 2 and ray["cluster_start_s"] > 0
    assert figures["ratio_ray_over_local"]["jobs_per_s"] == pytest.approx(ray["jobs_per_s"] / local["jobs_per_s"],
                                                                          rel=0.01, abs=0.001)
