"""The restore benchmark at a tiny size (50 rows in 5 commits per database): every database comes back from moto's
S3 with every row, and the ratio it prints is the one its own timings give."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest


@pytest.mark.timeout(400)
def test_tiny_restore_bench_gets_every_row_back(run_bench: Callable[..., str]) -> None:
    out = run_bench("restore_bench.py", "--rows", "50", "--commits", "5", "--payload", "20", timeout=360)
    figures = json.loads(out[out.index("{"):])
    assert figures["databases"] == 5 and figures["rows_expected_per_db"] == 60  # 50 written under watch + 10 before
    assert figures["all_rows_back"] is True
    assert set(figures["rows_per_db"]) == {"grader", "findings", "snapshot", "tokens", "orchestrator"}
    assert set(figures["rows_per_db"].values()) == {60}, figures
    assert figures["bytes_total"] > 0 and 0 < figures["write_s"] <= figures["write_and_flush_s"]
    assert figures["restore_all_from_s3_s"] > 0 and figures["local_copy_baseline_s"] >= 0
    assert figures["restore_vs_local_copy"] > 0
    if figures["local_copy_baseline_s"] >= 0.05:  # printed to 3 decimals: a shorter copy gives no ratio to check
        ratio = figures["restore_all_from_s3_s"] / figures["local_copy_baseline_s"]
        assert figures["restore_vs_local_copy"] == pytest.approx(ratio, rel=0.05, abs=0.1), figures
