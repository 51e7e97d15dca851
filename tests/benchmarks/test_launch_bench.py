"""The launch benchmark's start-up part at a tiny size (one evolve agent in a bwrap sandbox, five real servers, a
fresh home with the tiny testbed): the agent makes its first tool call and the figures agree with each other. The
research part (minutes per run on a calibrated home) is not run here."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.skips import require_bwrap


@pytest.mark.slow  # five servers and a sandboxed agent start: about 2 minutes on 2 busy cores
@pytest.mark.timeout(600)
def test_tiny_launch_bench_agent_reaches_its_first_tool_call(run_bench: Callable[..., str]) -> None:
    require_bwrap()
    out = run_bench("launch_bench.py", "--n", "1", "--settle", "1", "--timeout", "300", timeout=560)
    startup = json.loads(out.strip().splitlines()[-1])["startup"]
    assert startup["n"] == 1 and startup["goal_s"] == 60
    firsts = startup["first_tool_call_s"]
    assert len(firsts) == 1, startup  # the one agent called a tool before the timeout
    assert startup["all_agents_first_tool_call_s"] == max(firsts.values()) > 0
    assert startup["launch_returned_s"] > 0 and startup["agent_rss_mb_at_first_calls"] > 0
    later = startup["agent_rss_mb_after_1s"]
    assert 0 < later["mean"] <= later["max"], startup
