"""The fast-tier benchmark at a tiny size (the tiny sentiment testbed, two candidates, one seed, 8 student rows, both
tiers): every run is reported, and the table and its summary line are what those runs give."""

from __future__ import annotations

import json
import math
import re
import statistics
from collections.abc import Callable
from pathlib import Path

import pytest

CANDIDATES = ["vanilla_w2s", "vanilla_w2s+logconf"]


@pytest.mark.slow  # a LoRA run per candidate on the default strong model: about 4 minutes on 2 busy cores
@pytest.mark.timeout(900)
def test_tiny_fast_tier_bench_table_matches_its_runs(run_bench: Callable[..., str], tmp_path: Path) -> None:
    from mcp_servers.grader.datasets._build import build_testbed

    build_testbed("sentiment", "tiny", seed=0)
    out = run_bench("fast_tier_bench.py", "--dataset", "sentiment", "--seeds", "0", "--candidates",
                    ",".join(CANDIDATES), "--student-rows", "8", "--out", str(tmp_path / "runs"), timeout=840)
    runs = {(r["candidate"], r["tier"]): r for r in map(json.loads, re.findall(r"^\{.*\}$", out, re.MULTILINE))}
    assert set(runs) == {(c, t) for c in CANDIDATES for t in ("head", "lora")}, out
    assert all(r["seed"] == 0 and 0 <= r["acc"] <= 1 and r["s"] >= 0 for r in runs.values()), out

    ratios = []
    for name in CANDIDATES:
        row = re.search(rf"^\| {re.escape(name)} \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| (\d+)x \|$", out,
                        re.MULTILINE)
        assert row, out
        head_s, head_acc, lora_s, lora_acc, ratio = row.groups()
        assert float(head_s) == runs[(name, "head")]["s"] and float(lora_s) == runs[(name, "lora")]["s"]
        assert float(head_acc) == pytest.approx(runs[(name, "head")]["acc"], abs=1e-4)
        assert float(lora_acc) == pytest.approx(runs[(name, "lora")]["acc"], abs=1e-4)
        ratios.append(int(ratio))
    summary = re.search(r"median speed ratio lora/head: (\d+)x over 2 candidates, 1 seed\(s\); Spearman rank "
                        r"correlation of accuracies head vs lora: (nan|-?[\d.]+)", out)
    assert summary and abs(int(summary[1]) - statistics.median(ratios)) <= 1, out
    rho = float(summary[2])
    assert math.isnan(rho) or -1 <= rho <= 1  # nan when a tier scores both candidates alike
