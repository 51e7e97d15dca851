"""NOTEBOOK.md in the workspace: what the agent has tried, its fitness, what it submitted; rewritten atomically after
every step, so a restarted agent (or a person) reads the current state."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.agents.evolve._fitness import Fitness
from orchestrator.agents.evolve._space import Genome


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
    """baseline, shared (from another agent's finding) or generated."""


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
        """Atomic replace; a symlink planted at NOTEBOOK.md is replaced, never followed."""
        tmp = folder / f".NOTEBOOK.md.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(self.render())
        os.replace(tmp, folder / "NOTEBOOK.md")


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"
