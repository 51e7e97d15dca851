"""The testbed measurement at a tiny size (the tiny sentiment testbed, minilm-l6, a step or two): weak, ceiling and
one idea each measured once, and the summary (means, PGR) is what those lines give."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.trainer.trainer_helpers import TINY


@pytest.mark.slow  # three tiny trainings of minilm-l6: about 40 s on 2 busy cores
@pytest.mark.timeout(600)
def test_tiny_measurement_summary_matches_its_lines(run_bench: Callable[..., str], tmp_path: Path) -> None:
    from mcp_servers.grader.datasets._build import build_testbed

    build_testbed("sentiment", "tiny", seed=0)
    sets = [x for key, value in TINY.items() for x in ("--set", f"{key}={json.dumps(value)}")]
    out = run_bench("measure_testbed.py", "--dataset", "sentiment", "--seeds", "0", "--ideas", "vanilla_w2s",
                    "--out", str(tmp_path / "measure"), *sets, timeout=540)
    lines = [json.loads(line) for line in out[:out.index('{\n  "summary"')].splitlines() if line.startswith("{")]
    measured = {line["what"]: line["acc"] for line in lines}
    assert [line["what"] for line in lines] == ["weak", "ceiling", "vanilla_w2s"], out
    assert all(line["seed"] == 0 and line["s"] > 0 and 0 <= line["acc"] <= 1 for line in lines), out
    summary = json.loads(out[out.index('{\n  "summary"'):])["summary"]
    for what, acc in measured.items():
        assert summary[what]["mean"] == pytest.approx(acc) and summary[what]["n"] == 1
        assert math.isnan(summary[what]["sem"])  # one seed: no standard error
    gap = measured["ceiling"] - measured["weak"]
    expected = (measured["vanilla_w2s"] - measured["weak"]) / gap if gap > 1e-3 else None
    assert summary["vanilla_w2s"]["pgr"] == (pytest.approx(expected) if expected is not None else None), summary
