"""Agents: orchestrator state and cost, their jobs, job hours, compute slots in use."""

from __future__ import annotations

import pytest

from orchestrator.dashboard._agents import agents, compute, cost_over_time, job_hours, jobs, launches
from tests.orchestrator.dashboard.dash_helpers import DEnv


def test_jobs_slots_and_hours(denv: DEnv) -> None:
    running = denv.train_job("alice", "vanilla", losses=[1.0], state="running")
    queued = denv.train_job("bob", "ensemble", state="queued")
    slots = compute(denv.sources)
    assert slots.in_use == 1 and [j.id for j in slots.running] == [running] and slots.queued == 1
    by_name = {a.name: a for a in agents(denv.sources)}
    assert [j.id for j in by_name["alice"].running] == [running]
    assert by_name["alice"].running[0].node == "local:test-host"  # where it runs, for the operator
    assert [j.id for j in by_name["bob"].queued] == [queued]
    assert by_name["alice"].job_hours >= 0 and by_name["bob"].job_hours == 0
    done = next(j for j in jobs(denv.sources) if j.id == denv.ids["job"])
    assert done.idea == "logconf" and job_hours(done, now=0) >= 0


def test_orchestrator_state_and_cost(denv: DEnv) -> None:
    if "orchestrator" not in denv.ids:
        pytest.skip("the orchestrator's state module is not in this checkout")
    by_name = {a.name: a for a in agents(denv.sources)}
    assert by_name["alice"].state == "running" and by_name["alice"].direction == "direction 0"
    assert by_name["bob"].cost_usd == pytest.approx(0.5) and by_name["alice"].elapsed_s >= 3600  # type: ignore[operator]
    assert [lc.id for lc in launches(denv.sources)] == ["launch-1"]
    assert {k: v[-1].cost_usd for k, v in cost_over_time(denv.sources).items()} == {"alice": 0.25, "bob": 0.5}
