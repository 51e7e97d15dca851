"""The search loop: screen candidates on the fast tier, confirm the best with a full fine-tune, submit only a
confirmed candidate that beats every earlier submission on train_label accuracy, and for each grader-confirmed
improvement post a finding citing the submission and snapshot the config behind it.

Time: nothing is started that its tier's measured duration says cannot finish before `until - margin`; a job
still running at that point is cancelled. SIGTERM sets `stop`, which interrupts any wait at once.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from orchestrator.agents.evolve._client import ToolFailure, Tools
from orchestrator.agents.evolve._evolution import Evolver, Scored
from orchestrator.agents.evolve._fitness import fitness, groups_of, postprocess
from orchestrator.agents.evolve._notebook import Notebook, Trial
from orchestrator.agents.evolve._shared import finding_text, read_shared, snapshot_archive
from orchestrator.agents.evolve._space import POSTPROCESS, Genome, baselines

T = TypeVar("T")
_SPENT = re.compile(r"budget spent|budget exhausted|no submissions left|quota exceeded", re.IGNORECASE)
"""The grader will score nothing more from this agent: stop submitting, keep researching."""
_DEFER = re.compile(r"rate limit|too many|try again|retry|wait|slow down|budget|quota", re.IGNORECASE)
"""A refusal that passes with time: back off and resubmit the same candidate later."""


HEAD_SCREEN: dict[str, Any] = {"strong.tier": "head"}
"""Fast-tier screening. The head reads its own `fast_epochs`/`fast_lr` (the trainer's defaults are tuned for a
frozen-feature head; before they existed, lr 5e-4 for one epoch left it at 0.65 train_label accuracy on sentiment's
weak labels), so the LoRA-side genes mean nothing to a screen and stay frozen: screening ranks the label side."""
LORA_GENES = frozenset({"strong.lr", "strong.lora_r", "strong.epochs", "strong.warmup_frac", "strong.weight_decay"})
"""Genes a head screen cannot see: frozen while screening is on the head tier (confirmations use the defaults)."""


class Stopped(Exception):
    """The deadline or a SIGTERM: wind down."""


@dataclass
class Settings:
    dataset: str
    until: float
    seed: int = 0
    direction: str | None = None
    population: int = 6
    """Initial candidates screened before the first confirmation."""
    brood: int = 3
    """Children bred per generation."""
    preset: str | None = None
    """Trainer preset passed with every start_training (e.g. 'smoke' for tests)."""
    screen_steps: int = 40
    """Without a fast tier in the trainer, screening is a LoRA run capped at this many optimizer steps."""
    margin_s: float = 15.0
    """Seconds before `until` by which everything is wound down."""
    min_gain: float = 0.003
    """A confirmed candidate is submitted only if its train_label accuracy beats the best submitted by this much."""
    max_submissions: int = 20
    workdir: Path = field(default_factory=Path.cwd)


def tier_overrides(preset: str | None, screen_steps: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(screen, confirm) config overrides: the fast head tier when the trainer has one, else a shorter LoRA run."""
    from dataclasses import fields

    from trainer.training import TrainConfig

    if "tier" in {f.name for f in fields(TrainConfig)}:
        return dict(HEAD_SCREEN), {"strong.tier": "lora"}
    steps = screen_steps
    if preset:
        from trainer.presets import load_preset

        preset_steps = load_preset(preset).get("strong.max_steps")
        if isinstance(preset_steps, int):
            return {}, {}  # the preset already caps the run: screening and confirming are the same run
    return {"strong.max_steps": steps}, {}


class EvolveAgent:
    def __init__(self, settings: Settings, tools: Tools, emit: Callable[..., None]) -> None:
        self.s, self.tools, self.emit = settings, tools, emit
        self.stop = asyncio.Event()
        self.book = Notebook(settings.dataset, settings.direction, settings.seed)
        self.screen_extra, self.confirm_extra = tier_overrides(settings.preset, settings.screen_steps)
        head = self.screen_extra.get("strong.tier") == "head"
        self.evolver = Evolver(settings.dataset, settings.seed, settings.direction,
                               frozen=LORA_GENES if head else frozenset())
        self.same_tier = self.screen_extra == self.confirm_extra
        self.durations: dict[str, float] = {}
        self.queue: list[Trial] = []
        self.initial_left = 0
        self.confirmed: dict[str, Trial] = {}
        self.best_submitted = -math.inf
        self.best: dict[str, Any] | None = None
        """Best improving submission: submission_id, pgr, accuracy, genome."""
        self.pending: Trial | None = None
        self.retry_at, self.backoff = 0.0, 30.0
        self.can_submit = True
        self.counts = {"submissions": 0, "findings": 0, "snapshots": 0}
        self.shared_seen: set[str] = set()
        self.failures = 0
        """Consecutive failed experiments: a broken setup is waited out with back-off instead of spun on."""
        self.label_targets: list[int] | None = None
        self.label_groups: list[str | None] = []
        self.test_groups: list[str | None] = []

    # --- helpers ----------------------------------------------------------------------------------------------
    def remaining(self) -> float:
        return self.s.until - self.s.margin_s - time.time()

    def log(self, message: str) -> None:
        self.book.note(message)
        self.emit("log", message=message)

    def save(self) -> None:
        try:
            self.book.write(self.s.workdir)
        except OSError as exc:
            self.emit("log", message=f"could not write NOTEBOOK.md: {exc}")

    async def guarded(self, awaitable: Awaitable[T]) -> T:
        """Await, unless the deadline passes or `stop` is set first (then the call is abandoned)."""
        task = asyncio.ensure_future(awaitable)
        stopper = asyncio.ensure_future(self.stop.wait())
        done, _ = await asyncio.wait({task, stopper}, timeout=max(0.0, self.remaining()),
                                     return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if task in done:
            return task.result()
        task.cancel()
        raise Stopped

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

    # --- one experiment -----------------------------------------------------------------------------------------
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

    def worth_submitting(self, trial: Trial) -> bool:
        if not (self.can_submit and trial.fitness and trial.test_probs) or trial.submission is not None \
                or trial is self.pending or self.counts["submissions"] >= self.s.max_submissions:
            return False
        gain = 0.0 if self.best_submitted == -math.inf else self.s.min_gain
        return trial.fitness.value > self.best_submitted + gain

    def time_is_short(self) -> bool:
        """Less time left than three screens: stop waiting for the initial population before deciding."""
        return self.remaining() < 3 * self.durations.get("screen", math.inf) if "screen" in self.durations else False

    async def submit(self, trial: Trial) -> None:
        assert trial.test_probs is not None and trial.fitness is not None
        predictions = [round(float(p), 6) for p in postprocess(trial.test_probs, self.test_groups or
                                                                [None] * len(trial.test_probs), trial.genome.postprocess)]
        try:
            result = await self.guarded(self.tools.call(
                "grader", "submit_predictions", dataset=self.s.dataset, predictions=predictions,
                idea=f"evolve:{trial.genome.idea}"[:80], note=f"{trial.tier}: {trial.genome.key}"[:2000],
                seed=self.s.seed))
        except ToolFailure as exc:
            if _SPENT.search(exc.message):
                self.can_submit, self.pending = False, None
                self.log(f"submission budget spent; researching on without submitting: {exc.message[:200]}")
            elif exc.unreachable or _DEFER.search(exc.message):
                self.pending, self.retry_at = trial, time.time() + self.backoff
                self.log(f"submission deferred {self.backoff:.0f} s: {exc.message[:200]}")
                self.backoff = min(self.backoff * 2, 600.0)
            else:
                self.pending = None
                self.log(f"submission refused: {exc.message[:300]}")
            return
        self.pending, self.backoff = None, 30.0
        self.counts["submissions"] += 1
        trial.submission = result
        self.best_submitted = max(self.best_submitted, trial.fitness.value)
        overall = result["overall"]
        if result.get("submissions_left") == 0:
            self.can_submit = False
        self.emit("submission", submission_id=result["submission_id"], idea=trial.genome.idea,
                  genome=trial.genome.to_dict(), accuracy=overall.get("accuracy"), pgr=overall.get("pgr"),
                  improved=overall.get("improved"), fitness=trial.fitness.value)
        if overall.get("improved"):
            await self.share(trial, result)
            await self.select_final(result["submission_id"])
        else:
            self.log(f"submission {result['submission_id']} did not improve on the grader (fitness misled)")
        self.save()

    async def select_final(self, submission_id: int) -> None:
        """Mark the best submission as final (a grader without final selections simply refuses; nothing depends on
        it: the grader's default final pick is the best public one)."""
        try:
            await self.guarded(self.tools.call("grader", "select_final_submissions", dataset=self.s.dataset,
                                               submission_ids=[submission_id]))
        except ToolFailure as exc:
            self.log(f"select_final_submissions: {exc.message[:200]}")

    async def share(self, trial: Trial, result: dict[str, Any]) -> None:
        assert trial.fitness is not None
        previous, overall = self.best, result["overall"]
        self.best = {"submission_id": result["submission_id"], "pgr": overall.get("pgr"),
                     "accuracy": overall.get("accuracy"), "genome": trial.genome.to_dict()}
        tried = sum(1 for t in self.book.trials if t.tier == "screen")
        try:
            posted = await self.guarded(self.tools.call(
                "findings", "post_finding",
                **finding_text(trial.genome, self.s.dataset, result, trial.fitness.to_dict(), previous, tried,
                               trial.tier)))
            self.counts["findings"] += 1
            self.emit("finding", finding_id=posted["finding_id"], submission_id=result["submission_id"])
        except ToolFailure as exc:
            self.log(f"post_finding failed: {exc.message[:300]}")
            posted = None
        args = {"dataset": self.s.dataset, "recipe": "idea", "idea": trial.genome.idea,
                "config": trial.genome.config(self.s.seed, self.confirm_extra)} | (
            {"preset": self.s.preset} if self.s.preset else {})
        archive = snapshot_archive(trial.genome, self.s.dataset, self.s.seed, args, self.book.render(),
                                   {"submission": result["submission_id"], "fitness": trial.fitness.to_dict()})
        try:
            snap = await self.guarded(self.tools.call(
                "snapshot", "upload_snapshot", message=f"evolve config behind submission {result['submission_id']}",
                idea=f"evolve:{trial.genome.idea}"[:80], archive_b64=archive,
                **({"finding_id": posted["finding_id"]} if posted else {})))
            self.counts["snapshots"] += 1
            self.emit("snapshot", snapshot_id=snap["snapshot_id"], submission_id=result["submission_id"])
        except ToolFailure as exc:
            self.log(f"upload_snapshot failed: {exc.message[:300]}")

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
