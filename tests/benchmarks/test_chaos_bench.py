"""The chaos benchmark at a tiny size (2 agents, 1 SIGKILL, one restore from the replica), so it never rots."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_tiny_chaos_run_loses_nothing_acknowledged_and_reuses_no_id(run_bench: Callable[..., str]) -> None:
    out = run_bench("chaos_bench.py", "--agents", "2", "--calm-seconds", "2", "--seconds", "6", "--kills", "1",
                    "--restore-seconds", "6", "--json", timeout=380)
    figures = json.loads(out.strip().splitlines()[-1])
    assert figures["kills"] == 1 and figures["acknowledged"] > 0 and figures["calm_lost"] == 0
    assert figures["lost"] == 0 and figures["duplicates"] == 0, figures
    assert figures["refused"] == 0 and figures["unacknowledged"] == 0, figures["refusals"]
    assert figures["kill_to_next_ack_s"]["measured"] == 1  # the killed server came back and acknowledged again
    restore = figures["restore"]
    assert restore["ids_reused"] == 0 and restore["other_lost"] == 0, restore
    assert restore["first_new_id"] > restore["max_id_before_kill"] + 50_000  # past the restore's id gap
