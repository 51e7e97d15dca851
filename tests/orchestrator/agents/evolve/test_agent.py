"""The search loop's decisions: when to confirm, resuming after a restart, submitting a screened winner first."""

from __future__ import annotations

from pathlib import Path

from orchestrator.agents.evolve._notebook import Trial
from orchestrator.agents.evolve._space import Genome
from tests.orchestrator.agents.evolve.evolve_helpers import agent_with_grader, offline_agent, trial
from trainer.data import load_split


def test_confirmation_waits_for_three_screens_then_follows_the_best(tmp_path: Path) -> None:
    agent = offline_agent(tmp_path, population=6)
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
    first = offline_agent(tmp_path)
    done = trial(0.75, 4)
    done.submission = {"submission_id": 9, "overall": {"improved": True, "pgr": 0.4, "accuracy": 0.8}}
    first.book.trials.append(done)
    first.save()
    second = offline_agent(tmp_path)
    second.resume()
    assert second.counts["submissions"] == 1 and second.best and second.best["submission_id"] == 9
    assert second.best_submitted == 0.75 and not second.evolver.admit(done.genome)
    assert done.genome.key in second.confirmed


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
