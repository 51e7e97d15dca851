"""The search loop: screen candidates on the fast tier, confirm the best with a full fine-tune, submit only a
confirmed candidate that beats every earlier submission on train_label accuracy, and for each grader-confirmed
improvement post a finding citing the submission and snapshot the config behind it.

Time: nothing is started that its tier's measured duration says cannot finish before `until - margin`; a job
still running at that point is cancelled. SIGTERM sets `stop`, which interrupts any wait at once.
"""

from __future__ import annotations

import asyncio
import math
import time

from orchestrator.agents.evolve._client import ToolFailure
from orchestrator.agents.evolve._evolution import Scored
from orchestrator.agents.evolve._experiments import Experiments
from orchestrator.agents.evolve._fitness import groups_of
from orchestrator.agents.evolve._notebook import Trial
from orchestrator.agents.evolve._settings import Settings, tier_overrides
from orchestrator.agents.evolve._shared import read_shared
from orchestrator.agents.evolve._space import baselines
from orchestrator.agents.evolve._state import Stopped
from orchestrator.agents.evolve._submissions import Submissions

__all__ = ["EvolveAgent", "Settings", "Stopped", "tier_overrides"]


class EvolveAgent(Experiments, Submissions):
    """The search loop over the agent's experiments (`Experiments`) and submissions (`Submissions`)."""

    # --- setup ------------------------------------------------------------------------------------------------
    def resume(self) -> None:
        """Carry on after a restart: earlier trials are not rerun, earlier submissions set the bar."""
        count = self.book.load(self.s.workdir)
        if not count:
            return
        # A trial cut short by a stop has neither fitness nor error: it is run again.
        self.book.trials = [t for t in self.book.trials if t.fitness is not None or t.error is not None]
        count = len(self.book.trials)
        for trial in self.book.trials:
            self.evolver.seen.add(trial.genome.key)
            self.evolver.idea_counts[trial.genome.idea] += trial.tier == "screen"
            if trial.tier == "confirm":
                self.confirmed[trial.genome.key] = trial
            if trial.submission and trial.fitness:
                self.counts["submissions"] += 1
                self.best_submitted = max(self.best_submitted, trial.fitness.value)
                overall = trial.submission.get("overall", {})
                if overall.get("improved"):
                    self.best = {"submission_id": trial.submission.get("submission_id"), "pgr": overall.get("pgr"),
                                 "accuracy": overall.get("accuracy"), "genome": trial.genome.to_dict()}
        self.log(f"resumed {count} trials from an earlier run ({self.counts['submissions']} submissions)")

    async def setup(self) -> None:
        datasets = (await self.guarded(self.tools.call("grader", "list_datasets")))["result"]
        names = [d["name"] for d in datasets]
        if self.s.dataset not in names:
            raise SystemExit(f"dataset {self.s.dataset!r} is not graded here; graded: {names}")
        from trainer.data import load_split

        try:
            train_label = load_split(self.s.dataset, "train_label")
            self.label_targets, self.label_groups = train_label.targets(), groups_of(train_label.rows)
            self.test_groups = groups_of(load_split(self.s.dataset, "test").rows)
        except (OSError, ValueError) as exc:
            self.log(f"public data not readable ({exc}); fitness falls back to unsupervised signals")
        tier = ("head (fast) -> lora" if "strong.tier" in self.screen_extra else
                "single tier (the preset caps the run)" if self.same_tier else
                f"lora capped at {self.s.screen_steps} steps -> full lora")
        self.log(f"dataset {self.s.dataset}; screening: {tier}; direction {self.s.direction or 'none'}")
        self.resume()
        for genome, pgr in read_shared(self.s.workdir / "shared_findings", self.shared_seen):
            if len(self.queue) < max(1, self.s.population // 2) and self.evolver.admit(genome):
                self.queue.append(Trial(genome, "screen", origin="shared"))
                self.log(f"seeded from a shared finding (PGR {pgr}): {genome.describe()}")
        order = baselines()
        order = order[:1] + sorted(order[1:], key=lambda g: -self.evolver._weight(g.idea))
        for genome in order:
            if len(self.queue) >= self.s.population:
                break
            if self.evolver.admit(genome):
                self.queue.append(Trial(genome, "screen", origin="baseline"))
        missing = self.s.population - len(self.queue)
        if missing > 0:
            self.queue += [Trial(g, "screen") for g in self.evolver.children([], missing)]
        self.initial_left = len(self.queue)
        self.save()

    # --- decisions ----------------------------------------------------------------------------------------------
    def scored(self) -> list[Scored]:
        return [Scored(t.genome, t.fitness.value) for t in self.book.trials if t.fitness and t.tier == "screen"]

    def to_confirm(self) -> Trial | None:
        screened = sum(1 for t in self.book.trials if t.tier == "screen" and (t.fitness or t.error))
        if self.same_tier or (screened < min(3, self.s.population) and self.initial_left > 0
                              and not self.time_is_short()):
            return None  # a baseline submission early, after the first few screens; later ones must beat it
        screens = [t for t in self.book.trials if t.tier == "screen" and t.fitness]
        if not screens:
            return None
        best = max(screens, key=lambda t: t.fitness.value)  # type: ignore[union-attr]
        if best.genome.key in self.confirmed:
            return None
        bar = max((t.fitness.value for t in screens if t.genome.key in self.confirmed and t.fitness), default=-math.inf)
        return Trial(best.genome, "confirm", origin=best.origin) if best.fitness.value > bar else None  # type: ignore[union-attr]

    def time_is_short(self) -> bool:
        """Less time left than three screens: stop waiting for the initial population before deciding."""
        return self.remaining() < 3 * self.durations.get("screen", math.inf) if "screen" in self.durations else False

    # --- the loop -------------------------------------------------------------------------------------------
    def absorb_shared(self) -> None:
        for genome, pgr in read_shared(self.s.workdir / "shared_findings", self.shared_seen):
            if self.evolver.admit(genome):
                self.queue.insert(0, Trial(genome, "screen", origin="shared"))
                self.log(f"picked up a shared finding (PGR {pgr}): {genome.describe()}")

    async def step(self) -> None:
        if self.failures >= 3:
            pause = min(300.0, 10.0 * 2 ** (self.failures - 3))
            self.log(f"{self.failures} experiments failed in a row; pausing {pause:.0f} s")
            try:
                await asyncio.wait_for(self.guarded(self.stop.wait()), timeout=pause)
            except TimeoutError:
                pass
        if self.pending is not None and time.time() >= self.retry_at and self.can_submit:
            await self.submit(self.pending)
            return
        confirm = self.to_confirm()
        if confirm is not None:
            if self.counts["submissions"] == 0 and self.pending is None:
                # A full fine-tune takes minutes to hours: the screened winner is submitted first, so the agent has
                # a graded result even if the confirmation does not finish before the deadline.
                screened = next((t for t in self.book.trials if t.tier == "screen" and t.genome.key ==
                                 confirm.genome.key and t.fitness), None)
                if screened is not None and self.worth_submitting(screened):
                    await self.submit(screened)
            self.confirmed[confirm.genome.key] = confirm
            await self.evaluate(confirm)
            best = max([confirm, *self.postprocess_variants(confirm)],
                       key=lambda t: t.fitness.value if t.fitness else -math.inf)
            if self.worth_submitting(best):
                await self.submit(best)
            return
        if not self.queue:
            self.absorb_shared()
            self.queue += [Trial(g, "screen") for g in self.evolver.children(self.scored(), self.s.brood)]
            if not self.queue:
                self.log("search space exhausted; idling until the deadline")
                await self.guarded(self.stop.wait())
                return
        trial = self.queue.pop(0)
        await self.evaluate(trial)
        self.initial_left = max(0, self.initial_left - 1)
        if self.same_tier:
            best = max((t for t in self.book.trials if t.fitness), key=lambda t: t.fitness.value, default=None)  # type: ignore[union-attr]
            if best is not None and (self.initial_left == 0 or self.time_is_short()) and self.worth_submitting(best):
                await self.submit(best)

    async def run(self) -> str:
        reason = "deadline"
        try:
            if self.remaining() <= 0:
                raise Stopped
            await self.setup()
            while not self.stop.is_set():
                await self.step()
        except Stopped:
            pass
        except ToolFailure as exc:
            reason = f"error: {exc}"
            self.log(reason)
        if self.stop.is_set():
            reason = "stopped"
        self.save()
        self.emit("done", reason=reason, best=self.best, trials=len(self.book.trials), **self.counts)
        return reason
