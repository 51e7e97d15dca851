"""Submissions against a real grader (in-process uvicorn, real SQLite): the first candidate is submitted, a weaker
one is not, a rate-limit refusal defers the candidate with a growing back-off, a spent budget stops submitting
and the agent keeps researching."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp_servers.core import TokenStore
from mcp_servers.grader import Calibration, build_server, write_calibration
from mcp_servers.grader._service import GraderSettings
from mcp_servers.grader.datasets._build import build_testbed
from orchestrator.agents.evolve._agent import EvolveAgent, Settings
from orchestrator.agents.evolve._client import Tools
from orchestrator.agents.evolve._fitness import Fitness
from orchestrator.agents.evolve._notebook import Trial
from orchestrator.agents.evolve._space import Genome
from tests.mcp_servers.server_helpers import running
from trainer.data import load_split


@asynccontextmanager
async def agent_with_grader(home: Path, tmp: Path, **grader: Any) -> AsyncIterator[tuple[EvolveAgent, list]]:
    build_testbed("sentiment", "tiny", seed=0)
    settings = GraderSettings(**grader)
    write_calibration(settings.label_store, "sentiment", Calibration(weak_acc=0.55, strong_acc=0.9, seeds=1,
                                                                     source="test"))
    token = TokenStore(settings.tokens_db).mint("evo", ["grader"])
    events: list[dict[str, Any]] = []

    def emit(event: str, **fields: Any) -> None:
        events.append({"event": event, **fields})

    async with running(build_server(settings).http_app()) as url:
        tools = Tools({"grader": f"{url}/mcp"}, token, emit, retries=0)
        agent = EvolveAgent(Settings("sentiment", time.time() + 120, workdir=tmp, min_gain=0.01), tools, emit)
        yield agent, events


def trial(fit: float, n: int, flip: bool = False) -> Trial:
    probs = [float((i % 2) != flip) for i in range(n)]
    return Trial(Genome("vanilla_w2s", {"strong.lr": fit}), "confirm", fitness=Fitness(fit, fit, None, 1.0, "t"),
                 test_probs=probs)


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


def test_confirmation_waits_for_three_screens_then_follows_the_best(tmp_path: Path) -> None:
    agent = EvolveAgent(Settings("sentiment", time.time() + 3600, workdir=tmp_path, population=6),
                        Tools({}, "t", lambda *a, **k: None), lambda *a, **k: None)
    agent.screen_extra, agent.confirm_extra, agent.same_tier = {"strong.tier": "head"}, {"strong.tier": "lora"}, False
    agent.initial_left = 6

    def screen(lr: float, fit: float) -> Trial:
        t = trial(fit, 4)
        t.genome, t.tier = Genome("vanilla_w2s", {"strong.lr": lr}), "screen"
        agent.book.trials.append(t)
        agent.initial_left -= 1
        return t

    screen(1e-4, 0.70)
    screen(2e-4, 0.75)
    assert agent.to_confirm() is None  # two screens: too early
    screen(5e-4, 0.72)
    first = agent.to_confirm()
    assert first is not None and first.tier == "confirm" and first.genome.options == {"strong.lr": 2e-4}
    agent.confirmed[first.genome.key] = first
    screen(1e-3, 0.74)
    assert agent.to_confirm() is None  # nothing beats the confirmed genome's screen
    screen(3e-4, 0.80)
    assert agent.to_confirm().genome.options == {"strong.lr": 3e-4}  # type: ignore[union-attr]


def test_a_restarted_agent_resumes_without_rerunning_or_resubmitting(tmp_path: Path) -> None:
    def agent() -> EvolveAgent:
        return EvolveAgent(Settings("sentiment", time.time() + 3600, workdir=tmp_path),
                           Tools({}, "t", lambda *a, **k: None), lambda *a, **k: None)

    first = agent()
    done = trial(0.75, 4)
    done.submission = {"submission_id": 9, "overall": {"improved": True, "pgr": 0.4, "accuracy": 0.8}}
    first.book.trials.append(done)
    first.save()
    second = agent()
    second.resume()
    assert second.counts["submissions"] == 1 and second.best and second.best["submission_id"] == 9
    assert second.best_submitted == 0.75 and not second.evolver.admit(done.genome)
    assert done.genome.key in second.confirmed


def test_screening_tier_follows_the_trainer() -> None:
    from dataclasses import fields

    from orchestrator.agents.evolve._agent import HEAD_SCREEN, tier_overrides
    from trainer.training import TrainConfig

    screen, confirm = tier_overrides(None, 40)
    if "tier" in {f.name for f in fields(TrainConfig)}:
        assert screen == HEAD_SCREEN and confirm == {"strong.tier": "lora"}
    else:
        assert screen == {"strong.max_steps": 40} and confirm == {}


async def test_the_screened_winner_is_submitted_before_its_confirmation(w2s_home: Path, tmp_path: Path) -> None:
    async with agent_with_grader(w2s_home, tmp_path) as (agent, events):
        agent.screen_extra, agent.confirm_extra, agent.same_tier = {"strong.tier": "head"}, {"strong.tier": "lora"}, False
        n = len(load_split("sentiment", "test"))
        screened = trial(0.7, n)
        screened.tier = "screen"
        agent.book.trials.append(screened)
        agent.initial_left = 0
        await agent.step()  # submits the screen, then tries the confirmation (no train server here: it fails)
        assert screened.submission is not None and agent.counts["submissions"] == 1
        confirm = agent.book.trials[-1]
        assert confirm.tier == "confirm" and "no URL for the train server" in (confirm.error or "")
        await agent.step()  # nothing new to confirm, nothing resubmitted; the search breeds children next
        assert [e["event"] for e in events].count("submission") == 1


def test_postprocess_variants_are_rescored_from_a_finished_run(tmp_path: Path) -> None:
    agent = EvolveAgent(Settings("sentiment", time.time() + 3600, workdir=tmp_path),
                        Tools({}, "t", lambda *a, **k: None), lambda *a, **k: None)
    agent.label_targets, agent.label_groups = [1, 0, 0, 1], ["g1", "g1", "g2", "g2"]
    agent.test_groups = ["t1", "t1"]
    done = trial(0.5, 2)
    done.label_probs = [0.6, 0.55, 0.4, 0.45]  # 50 % right at 0.5; the group fix makes it 100 %
    variants = agent.postprocess_variants(done)
    by = {v.genome.postprocess: v for v in variants}
    assert set(by) == {"group_normalize", "consistency_fix"} and all(v.origin == "postprocess" for v in variants)
    assert by["consistency_fix"].fitness.label_accuracy == 1.0  # type: ignore[union-attr]
    assert by["consistency_fix"].test_probs == done.test_probs and by["consistency_fix"].job_id == done.job_id
    assert not agent.evolver.admit(by["consistency_fix"].genome)  # never screened again
    assert agent.postprocess_variants(trial(0.5, 2)) == []  # no train_label predictions: nothing to re-score
