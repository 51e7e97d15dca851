"""Submitting: only a candidate that beats every earlier submission; a refusal that passes with time is retried
with back-off, a spent budget stops submitting. Each grader-confirmed improvement is marked final, posted as a
finding citing the submission, and snapshotted with the config behind it."""

from __future__ import annotations

import math
import re
import time
from typing import Any

from orchestrator.agents.evolve._client import ToolFailure
from orchestrator.agents.evolve._fitness import postprocess
from orchestrator.agents.evolve._notebook import Trial
from orchestrator.agents.evolve._shared import finding_text, snapshot_archive
from orchestrator.agents.evolve._state import AgentState

_SPENT = re.compile(r"budget spent|budget exhausted|no submissions left|quota exceeded", re.IGNORECASE)
"""The grader will score nothing more from this agent: stop submitting, keep researching."""
_DEFER = re.compile(r"rate limit|too many|try again|retry|wait|slow down|budget|quota", re.IGNORECASE)
"""A refusal that passes with time: back off and resubmit the same candidate later."""


class Submissions(AgentState):
    """Submits, shares and marks finals for the search loop."""

    def worth_submitting(self, trial: Trial) -> bool:
        if not (self.can_submit and trial.fitness and trial.test_probs) or trial.submission is not None \
                or trial is self.pending or self.counts["submissions"] >= self.s.max_submissions:
            return False
        gain = 0.0 if self.best_submitted == -math.inf else self.s.min_gain
        return trial.fitness.value > self.best_submitted + gain

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
