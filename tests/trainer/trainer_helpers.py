"""Tiny synthetic datasets in the public format (binary with consistency groups, and preference), and overrides
that make any idea run in seconds on them."""

from __future__ import annotations

import json
import random
from pathlib import Path

from trainer.data import BinaryRow, PreferenceRow

POS = ["great", "wonderful", "moving", "funny", "brilliant", "charming"]
NEG = ["dull", "awful", "boring", "clumsy", "tedious", "messy"]
INSTRUCTION = "Is the sentiment of this review positive or negative?"


def _review(rng: random.Random, positive: bool) -> str:
    words = rng.sample(POS if positive else NEG, 2)
    return f"The film was {words[0]} and {words[1]}."


def binary_rows(n_texts: int, seed: int, split: str, labeled: bool) -> list[BinaryRow]:
    rng = random.Random(seed)
    rows = []
    for i in range(n_texts):
        positive = rng.random() < 0.5
        text = _review(rng, positive)
        for choice in ("positive", "negative"):
            rows.append(BinaryRow(
                id=f"{split}-{i}-{choice}", question=f"{INSTRUCTION}\n{text}", choice=choice,
                consistency_id=f"{split}-{i}", label=((choice == "positive") == positive) if labeled else None,
            ))
    return rows


def preference_rows(n: int, seed: int, split: str, labeled: bool) -> list[PreferenceRow]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        good, bad = _review(rng, True), _review(rng, False)
        b_better = rng.random() < 0.5
        first, second = (bad, good) if b_better else (good, bad)
        rows.append(PreferenceRow(id=f"{split}-{i}", prompt="Write a kind review.", first=first, second=second,
                                  label=("B" if b_better else "A") if labeled else None))
    return rows


def write_dataset(root: Path, name: str, kind: str, sizes: tuple[int, int, int] = (12, 12, 8)) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    make = binary_rows if kind == "binary" else preference_rows
    for seed, (split, n) in enumerate(zip(("train_label", "train_unlabel", "test"), sizes, strict=True)):
        rows = make(n, seed, split, labeled=(split == "train_label"))
        with (folder / f"{split}.jsonl").open("w") as f:
            for r in rows:
                f.write(json.dumps(r.model_dump(exclude_none=True)) + "\n")
    return folder



TINY = {
    "weak.model": "minilm-l6", "weak.tier": "full", "weak.lora": False, "weak.max_steps": 1, "weak.batch_size": 8,
    "weak.max_length": 64, "weak.progress": False,
    "strong.model": "minilm-l6", "strong.tier": "lora", "strong.max_steps": 2, "strong.batch_size": 8,
    "strong.max_length": 64, "strong.progress": False,
}
