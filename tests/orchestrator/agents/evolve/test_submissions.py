"""Submissions against a real grader: the first candidate is submitted, a weaker one is not, a rate-limit refusal
defers the candidate with a growing back-off, a spent budget stops submitting and the agent keeps researching."""

from __future__ import annotations

import time
from pathlib import Path

from tests.orchestrator.agents.evolve.evolve_helpers import agent_with_grader, trial
from trainer.data import load_split


async def test_submit_only_improvements_and_stop_when_the_budget_is_spent(w2s_home: Path, tmp_path: Path) -> None:
    async with agent_with_grader(w2s_home, tmp_path, max_submissions=2, rate_limit_per_minute=0,
                                 rate_limit_per_hour=0) as (agent, events):
        n = len(load_split("sentiment", "test"))
        first = trial(0.70, n)
        assert agent.worth_submitting(first)
        await agent.submit(first)
        assert first.submission and first.submission["overall"]["improved"] is True
        assert agent.counts["submissions"] == 1 and agent.best and agent.best["submission_id"] > 0
        assert not agent.worth_submitting(trial(0.705, n))  # below best + min_gain: not worth a submission
        await agent.submit(trial(0.80, n, flip=True))
        assert agent.counts["submissions"] == 2 and not agent.can_submit  # the grader said 0 left
        agent.can_submit = True  # as if that answer had been lost: the grader's refusal must stop it too
        third = trial(0.90, n)
        await agent.submit(third)
        assert not agent.can_submit and agent.pending is None and third.submission is None
        assert not agent.worth_submitting(trial(0.99, n))
    kinds = [e["event"] for e in events]
    assert kinds.count("submission") == 2
    logs = " ".join(e["message"] for e in events if e["event"] == "log")
    assert "budget spent" in logs and "post_finding failed" in logs  # no findings server here: logged, not fatal


async def test_a_rate_limit_defers_with_growing_backoff(w2s_home: Path, tmp_path: Path) -> None:
    async with agent_with_grader(w2s_home, tmp_path, rate_limit_per_minute=1) as (agent, events):
        n = len(load_split("sentiment", "test"))
        await agent.submit(trial(0.7, n))
        second = trial(0.8, n, flip=True)
        before = time.time()
        await agent.submit(second)
        assert agent.pending is second and agent.retry_at >= before + 29 and agent.backoff == 60.0
        assert agent.can_submit and second.submission is None
        assert [e["event"] for e in events].count("submission") == 1
        assert any("deferred" in e.get("message", "") for e in events)
