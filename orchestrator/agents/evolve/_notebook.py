"""NOTEBOOK.md in the workspace: what the agent has tried, its fitness, what it submitted; rewritten atomically after
every step, so a restarted agent (or a person) reads the current state."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.agents.evolve._fitness import Fitness
from orchestrator.agents.evolve._space import Genome, InvalidGenome

STATE_FILE = ".evolve_state.json"
"""Machine-readable twin of NOTEBOOK.md: what a restarted agent resumes from (no re-runs, no re-submissions)."""


@dataclass
class Trial:
    genome: Genome
    tier: str
    """screen (fast tier) or confirm (full fine-tune)."""
    job_id: str | None = None
    fitness: Fitness | None = None
    error: str | None = None
    seconds: float = 0.0
    test_probs: list[float] | None = None
    submission: dict[str, Any] | None = None
    origin: str = "generated"
    """baseline, shared (from another agent's finding), generated, or postprocess (re-scored, no new job)."""
    label_probs: list[float] | None = None
    """The student's P(class 1) on train_label (kept in memory only: postprocess variants are re-scored from it)."""


@dataclass
class Notebook:
    dataset: str
    direction: str | None
    seed: int
    started: float = field(default_factory=time.time)
    trials: list[Trial] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.notes.append(f"{time.strftime('%H:%M:%S', time.gmtime())} {text}")
        del self.notes[:-40]

    def render(self) -> str:
        lines = [f"# NOTEBOOK: evolve agent on `{self.dataset}`", "",
                 (f"Direction: {self.direction or 'none'}; seed {self.seed}; started "
                 f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(self.started))}; "
                 f"{len(self.trials)} trials."), "",
                 ("Fitness is accuracy on train_label (public labels; the student never trains on it) after the "
                 "genome's postprocess; the grader is asked only about confirmed winners."), ""]
        submitted = [t for t in self.trials if t.submission]
        lines += ["## Submissions", ""]
        if submitted:
            lines += ["| submission | genome | accuracy | PGR | improved |", "| --- | --- | --- | --- | --- |"]
            for t in submitted:
                sub = t.submission or {}
                overall = sub.get("overall", {})
                lines.append(f"| {sub.get('submission_id')} | `{t.genome.describe()}` | {overall.get('accuracy')} | "
                             f"{overall.get('pgr')} | {overall.get('improved')} |")
        else:
            lines.append("none yet")
        lines += ["", "## Trials (best first)", "",
                  "| tier | genome | fitness | train_label acc | consistency | seconds | origin | job | error |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        ranked = sorted(self.trials, key=lambda t: -(t.fitness.value if t.fitness else -1.0))
        for t in ranked:
            f = t.fitness
            lines.append(f"| {t.tier} | `{t.genome.describe()}` | {_num(f.value if f else None)} | "
                         f"{_num(f.label_accuracy if f else None)} | {_num(f.consistency if f else None)} | "
                         f"{t.seconds:.0f} | {t.origin} | {t.job_id or ''} | {(t.error or '')[:120]} |")
        lines += ["", "## Log", "", *[f"- {n}" for n in self.notes], ""]
        return "\n".join(lines)

    def write(self, folder: Path) -> None:
        """NOTEBOOK.md and the state file, each replaced atomically; a planted symlink is replaced, never followed."""
        _replace(folder, "NOTEBOOK.md", self.render())
        state = {"version": 1, "dataset": self.dataset, "trials": [{
            "genome": t.genome.to_dict(), "tier": t.tier, "job_id": t.job_id, "error": t.error,
            "seconds": round(t.seconds, 1), "origin": t.origin, "submission": t.submission,
            "fitness": t.fitness.to_dict() if t.fitness else None} for t in self.trials]}
        _replace(folder, STATE_FILE, json.dumps(state, default=str))

    def load(self, folder: Path) -> int:
        """Trials of an earlier run of this agent on this dataset (a restart); answers how many. A missing,
        foreign or damaged state file gives 0 and is overwritten later."""
        try:
            fd = os.open(folder / STATE_FILE, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, encoding="utf-8") as handle:
                state = json.load(handle)
            if state.get("version") != 1 or state.get("dataset") != self.dataset:
                return 0
            loaded = []
            for item in state["trials"]:
                f = item.get("fitness")
                fitness = Fitness(float(f["value"]), f.get("label_accuracy"), f.get("consistency"),
                                  float(f.get("confidence") or 0.0), str(f.get("source"))) if f else None
                loaded.append(Trial(Genome.from_dict(item["genome"]), str(item["tier"]), item.get("job_id"),
                                    fitness, item.get("error"), float(item.get("seconds") or 0.0), None,
                                    item.get("submission"), str(item.get("origin") or "generated")))
        except (OSError, ValueError, KeyError, TypeError, AttributeError, InvalidGenome):
            return 0
        self.trials[:0] = loaded
        return len(loaded)


def _replace(folder: Path, name: str, text: str) -> None:
    tmp = folder / f".{name}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, folder / name)


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"
