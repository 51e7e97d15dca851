"""Adaptive attacks on the grader and a simulated honest agent, shared by the attack tests and
`benchmarks/grader_attack_bench.py`. Everything here sees only what an agent sees: the public test file (row
order, consistency groups) and the grader's answers; `truth` is used only to count what was learned.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

PARTS = ("overall", "id", "ood")


def consistency_groups(rows: Sequence[dict[str, Any]]) -> list[list[int]]:
    """Row indices per consistency group of the public test file (what the attacker reads)."""
    groups: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(str(row.get("consistency_id", f"row{i}")), []).append(i)
    return list(groups.values())


def consistent_start(groups: list[list[int]], truth: Sequence[int], accuracy: float, seed: int) -> list[float]:
    """A consistent vector (one answer per group marked 1) with about `accuracy` of the groups right."""
    rng = random.Random(seed)
    out = [0.0] * len(truth)
    for members in groups:
        right = rng.random() < accuracy
        for i in members:
            out[i] = float(truth[i] if right else 1 - truth[i])
    return out


@dataclass
class GroupClimb:
    """Re-orient a few random consistency groups of the kept vector; keep the change whenever *any* part
    (overall, ID, OOD) says `improved`. The move size cycles through `sizes` (groups per probe), so no single
    row threshold catches every probe."""

    groups: list[list[int]]
    vector: list[float]
    sizes: tuple[int, ...] = (1, 2, 3, 5, 8)
    seed: int = 0
    kept: int = 0
    seen: float = 0.0
    dilute: int = 0
    """Groups re-oriented at random in a far-off decoy submitted between probes (0: no decoys)."""
    _probe: list[float] = field(default_factory=list)
    _step: int = 0
    _decoy: bool = False

    def propose(self) -> list[float]:
        rng = random.Random(self.seed * 1_000_003 + self._step)
        self._decoy = self.dilute > 0 and self._step % 2 == 1
        k = self.dilute if self._decoy else self.sizes[(self._step // (2 if self.dilute else 1)) % len(self.sizes)]
        self._step += 1
        probe = list(self.vector)
        for g in rng.sample(range(len(self.groups)), k):
            for i in self.groups[g]:
                probe[i] = 1.0 - probe[i]
        self._probe = probe
        return probe

    def observe(self, answer: dict[str, Any]) -> bool:
        overall = answer["overall"]["accuracy"]
        if self._decoy or overall < self.seen:
            return False  # only with exact scores: a part rose while the whole fell
        self.seen = max(self.seen, overall)
        if any((answer.get(p) or {}).get("improved") for p in PARTS):
            self.vector, self.kept = self._probe, self.kept + 1
            return True
        return False


@dataclass
class Outcome:
    submissions: int = 0
    refused: int = 0
    improved: int = 0
    flagged: int = 0
    climb_flagged: int = 0
    public_gain: int = 0
    private_gain: int = 0
    refusals: list[str] = field(default_factory=list)


def correct_rows(vector: Sequence[float], truth: Sequence[int], rows: Sequence[bool]) -> int:
    return sum(1 for v, t, keep in zip(vector, truth, rows, strict=True) if keep and int(v >= 0.5) == t)


def run_climb(submit: Callable[[list[float]], dict[str, Any]], climb: GroupClimb, truth: Sequence[int],
              public: Sequence[bool], probes: int, refused: type[Exception] = Exception) -> Outcome:
    """Drive a climb for `probes` submissions through `submit` (an answer dict, or raises `refused`)."""
    start = list(climb.vector)
    out = Outcome()
    for _ in range(probes):
        try:
            answer = submit(climb.propose())
        except refused as exc:
            out.refused += 1
            if len(out.refusals) < 3:
                out.refusals.append(str(exc))
            continue
        out.submissions += 1
        out.improved += climb.observe(answer)
        flags = answer.get("flags") or []
        out.flagged += bool(flags)
        out.climb_flagged += any(f.startswith("climb") for f in flags)
    private = [not p for p in public]
    out.public_gain = correct_rows(climb.vector, truth, public) - correct_rows(start, truth, public)
    out.private_gain = correct_rows(climb.vector, truth, private) - correct_rows(start, truth, private)
    return out


def honest_models(truth: Sequence[int], base_accuracy: float, gain: float, changed: float,
                  seed: int) -> tuple[list[float], list[float]]:
    """(current best, a better model): the better one is `gain` more accurate on the whole test in expectation
    and disagrees with the current one on about `changed` of the rows, as two trained models do."""
    rng = random.Random(seed)
    old = [float(t if rng.random() < base_accuracy else 1 - t) for t in truth]
    # among the rows that change, wrong->right minus right->wrong must average gain * n
    to_right = (changed + gain) / 2
    to_wrong = (changed - gain) / 2
    new = list(old)
    for i, t in enumerate(truth):
        right = int(old[i]) == t
        p = to_right / (1 - base_accuracy) if not right else to_wrong / base_accuracy
        if rng.random() < min(1.0, p):
            new[i] = 1.0 - old[i]
    return old, new


def honest_sequence(truth: Sequence[int], count: int, seed: int, hard_share: float = 0.3) -> list[list[float]]:
    """`count` different honest models: right on easy rows almost always, on a hard share of the rows with a
    row-specific probability (their disagreements concentrate on the same hard rows, as trained models' do)."""
    rng = random.Random(seed)
    skill = [0.97 if rng.random() > hard_share else rng.uniform(0.4, 0.8) for _ in truth]
    return [[float(t if rng.random() < p else 1 - t) for t, p in zip(truth, skill, strict=True)]
            for _ in range(count)]
