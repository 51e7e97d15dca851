"""One experiment: a training job (screen or confirmation) through the train server, the student's train_label
predictions through the predict server, its fitness, and the label transformations re-scored from the same run."""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

from orchestrator.agents.evolve._client import ToolFailure
from orchestrator.agents.evolve._fitness import fitness
from orchestrator.agents.evolve._notebook import Trial
from orchestrator.agents.evolve._space import POSTPROCESS, Genome
from orchestrator.agents.evolve._state import AgentState, Stopped


class Experiments(AgentState):
    """Runs experiments for the search loop; a tool failure is recorded on the trial, never raised."""

    async def run_job(self, server: str, start: str, args: dict[str, Any]) -> dict[str, Any]:
        job = await self.guarded(self.tools.call(server, start, **args))
        job_id = job["id"]
        try:
            while True:
                view = await self.guarded(self.tools.call(server, "wait_job", job_id=job_id,
                                                          max_wait_s=max(1.0, min(30.0, self.remaining()))))
                if view["state"] in ("succeeded", "failed", "cancelled"):
                    break
        except Stopped:
            await self.cancel(server, job_id)
            raise
        if view["state"] != "succeeded":
            raise ToolFailure(server, start, f"job {job_id} {view['state']}: {(view.get('error') or '')[-300:]}")
        return view

    async def cancel(self, server: str, job_id: str) -> None:
        try:
            await asyncio.wait_for(self.tools.call(server, "cancel_job", job_id=job_id), timeout=5)
        except (ToolFailure, TimeoutError):
            pass

    def _read_predictions(self, relative: str) -> list[float]:
        path = self.s.workdir / relative
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, encoding="utf-8") as handle:
            data = json.load(handle)
        return [float(p) for p in data["predictions"]]

    def _checkpoint(self, view: dict[str, Any]) -> str | None:
        result = view.get("result") or {}
        if isinstance(result.get("checkpoint"), str):
            return result["checkpoint"]
        for relative in (f"runs/{view['id']}/strong/checkpoint", f"runs/{view['id']}/checkpoint"):
            if (self.s.workdir / relative / "classifier.json").is_file():
                return relative
        return None

    async def evaluate(self, trial: Trial) -> None:
        extra = self.screen_extra if trial.tier == "screen" else self.confirm_extra
        expected = self.durations.get(trial.tier, self.durations.get("screen"))
        if expected is not None and self.remaining() < expected:
            if trial.tier == "screen":
                raise Stopped  # a screen is the cheapest step: nothing else fits either
            self.log(f"no time left to confirm {trial.genome.describe()} (about {expected:.0f} s)")
            return
        started = time.time()
        args: dict[str, Any] = {"dataset": self.s.dataset, "recipe": "idea", "idea": trial.genome.idea,
                                "config": trial.genome.config(self.s.seed, extra)}
        if self.s.preset:
            args["preset"] = self.s.preset
        self.book.trials.append(trial)
        self.log(f"{trial.tier}: {trial.genome.describe()}")
        try:
            view = await self.run_job("train", "start_training", args)
            trial.job_id = view["id"]
            trial.test_probs = self._read_predictions(view["result"]["predictions_file"])
            label_probs = await self.label_predictions(view)
            trial.label_probs = label_probs
            trial.fitness = fitness(trial.test_probs, self.test_groups, trial.genome.postprocess, label_probs,
                                    self.label_targets if label_probs is not None else None, self.label_groups)
            self.log(f"{trial.tier} done: fitness {trial.fitness.value:.4f} ({trial.fitness.source})")
        except ToolFailure as exc:
            trial.error = exc.message
            self.log(f"{trial.tier} failed: {exc.message[:300]}")
        except (OSError, ValueError, KeyError) as exc:
            trial.error = f"{type(exc).__name__}: {exc}"
            self.log(f"{trial.tier} result unreadable: {trial.error[:300]}")
        finally:
            trial.seconds = time.time() - started
            self.failures = 0 if trial.fitness is not None else self.failures + 1
            if trial.error is None and trial.fitness is not None:
                old = self.durations.get(trial.tier)
                self.durations[trial.tier] = trial.seconds if old is None else 0.5 * old + 0.5 * trial.seconds
            self.save()

    async def label_predictions(self, view: dict[str, Any]) -> list[float] | None:
        """The student's P(class 1) on train_label (a predict job on its checkpoint), or None if there is none."""
        checkpoint = self._checkpoint(view)
        if checkpoint is None or self.label_targets is None:
            return None
        try:
            job = await self.run_job("predict", "predict", {"dataset": self.s.dataset, "split": "train_label",
                                                            "checkpoint": checkpoint})
            answer = await self.guarded(self.tools.call("predict", "read_predictions", job_id=job["id"]))
        except ToolFailure as exc:
            self.log(f"no train_label predictions ({exc.message[:200]}); unsupervised fitness")
            return None
        return [float(p) for p in answer["predictions"]]

    def postprocess_variants(self, trial: Trial) -> list[Trial]:
        """The other label transformations of a finished run, scored from its predictions (no new job)."""
        if trial.fitness is None or trial.test_probs is None or trial.label_probs is None:
            return []
        variants = []
        for how in POSTPROCESS:
            genome = Genome(trial.genome.idea, dict(trial.genome.options), how)
            if how == trial.genome.postprocess:
                continue
            variant = Trial(genome, trial.tier, trial.job_id, origin="postprocess", test_probs=trial.test_probs,
                            label_probs=trial.label_probs)
            variant.fitness = fitness(trial.test_probs, self.test_groups, how, trial.label_probs,
                                      self.label_targets, self.label_groups)
            self.evolver.seen.add(genome.key)
            self.confirmed.setdefault(genome.key, variant)
            self.book.trials.append(variant)
            variants.append(variant)
        if variants:
            self.log("postprocess variants of " + trial.genome.describe() + ": " + ", ".join(
                f"{v.genome.postprocess} {v.fitness.value:.4f}" for v in variants if v.fitness))
            self.save()
        return variants
