"""What an agent is told about a submission: one Ladder on the overall public score, parts no finer than it.

Blum & Hardt's Ladder (2015) answers a new accuracy only when it beats the agent's best *reported* accuracy by
`step`, floored to a multiple of the step; otherwise it repeats the best. Every answer then carries at most one
bit ("improved") plus, at an improvement, a coarse new value. Separate Ladders per part (ID, OOD, any subset)
would hand out one such bit per part and let a climb keep a change that helps any part (issue #16: the OOD
part's step was under 3 rows). So the parts never get a Ladder of their own:

- part values are those of the submission that holds the agent's overall best, so they change only when the
  overall score improves (a change that helps only one part is never reported as anything);
- each part is floored to a step as coarse *in rows* as the overall step: `step * n_overall / n_part` (rounded
  up to the reported digits; on the grid 1, 1 - step, ...), so a small part never resolves finer than the
  overall score does.

Optional Thresholdout-style noise (Dwork et al. 2015, "The reusable holdout"): with `noise > 0` the Ladder's
threshold gets fresh Laplace noise of that scale on every submission, so the exact crossing point of the step
cannot be located by repeated probes near it. Off by default: the benchmark (`benchmarks/grader_attack_bench.py`)
measures what it buys against the climb and what it costs an honest agent.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from mcp_servers.grader._integrity import floor_to
from mcp_servers.grader._models import PartReport
from mcp_servers.grader._scoring import SLICES, Scores, pgr

Reference = Callable[[str], "tuple[float, float] | None"]
"""(weak, strong) accuracy PGR is measured against, per part ("overall", "id", "ood"), if calibrated."""


@dataclass(frozen=True)
class Best:
    """The agent's current best on a dataset: the reported numbers of the submission that holds it."""

    submission_id: int
    accuracy: float
    parts: dict[str, float] = field(default_factory=dict)


def part_step(step: float, n_overall: int, n_part: int, decimals: int) -> float:
    """A part's reporting step: the overall step's size in rows, over the part's rows, rounded up."""
    if n_part <= 0:
        return 1.0
    unit = 10.0 ** -decimals
    return min(1.0, math.ceil(step * n_overall / n_part / unit - 1e-9) * unit)


def floor_from_top(value: float, step: float) -> float:
    """Down to the grid 1, 1 - step, 1 - 2 step, ... (a perfect part reads 1.0 whatever its step)."""
    return max(0.0, round(1.0 - math.ceil((1.0 - value) / step - 1e-9) * step, 6))


@dataclass(frozen=True)
class Feedback:
    step: float
    decimals: int
    noise: float = 0.0

    def answer(self, exact: Scores, best: Best | None, reference: Reference,
               draw: Callable[[], float] | None = None, withhold: bool = False) -> tuple[dict[str, PartReport], bool]:
        """(reports per part, improved) for a submission scored `exact` given the agent's current `best`.

        `withhold`: the submission is a near-duplicate or a climb step; it learns nothing (the best is repeated).
        """
        overall = exact.overall.accuracy
        if self.step <= 0:
            return self._exact(exact, best, reference)
        threshold = -math.inf if best is None else best.accuracy + self.step - 1e-12
        if withhold and best is not None:
            threshold = math.inf
        if best is not None and self.noise > 0 and draw is not None:
            threshold += draw() * self.noise
        reported = floor_to(overall, self.step)
        improved = overall >= threshold and (best is None or reported > best.accuracy)
        if not improved:
            assert best is not None
            reported = best.accuracy
        out = {"overall": self._report("overall", reported, exact.overall.pgr_note, improved, reference)}
        for part in SLICES:
            got = getattr(exact, part)
            if got is None:
                continue
            previous = None if best is None else best.parts.get(part)
            if improved:
                value = floor_from_top(got.accuracy, part_step(self.step, exact.overall.n, got.n, self.decimals))
            elif previous is not None:
                value = previous
            else:
                continue  # no part number was ever reported for this best: say nothing rather than something new
            rose = improved and (previous is None or value > previous)
            out[part] = self._report(part, value, got.pgr_note, rose, reference)
        return out, improved

    def _exact(self, exact: Scores, best: Best | None, reference: Reference) -> tuple[dict[str, PartReport], bool]:
        """Ladder off (`step = 0`): every part exactly, rounded; for tests and trusted operators only."""
        out = {}
        for part in ("overall", *SLICES):
            got = getattr(exact, part)
            if got is None:
                continue
            value = round(got.accuracy, self.decimals)
            previous = None if best is None else (best.accuracy if part == "overall" else best.parts.get(part))
            out[part] = self._report(part, value, got.pgr_note, previous is None or value > previous, reference)
        return out, out["overall"].improved

    def _report(self, part: str, accuracy: float, note: str | None, improved: bool,
                reference: Reference) -> PartReport:
        ref = reference(part)
        value = None if ref is None else pgr(accuracy, *ref)
        return PartReport(accuracy=round(accuracy, self.decimals),
                          pgr=None if value is None else round(value, self.decimals), pgr_note=note,
                          improved=improved)
