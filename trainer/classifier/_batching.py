"""Tokenize rows once and pad batches dynamically (right padding: the causal head reads position length-1)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from trainer.classifier._model import BinaryClassifier
from trainer.classifier._templates import encode_pair, encode_prompt
from trainer.data import Row

Features = dict[str, list[int]]


def encode_rows(clf: BinaryClassifier, rows: Sequence[Row]) -> list[Features]:
    """Model inputs per row; the template and truncation depend on the classifier's kind."""
    if clf.spec.kind == "causal_lm":
        return [{"input_ids": encode_prompt(r, clf.tokenizer, clf.spec.max_length)} for r in rows]
    return [encode_pair(r, clf.tokenizer, clf.spec.max_length) for r in rows]


def collate(features: Sequence[Features], pad_id: int, device: torch.device | str = "cpu") -> dict[str, Any]:
    width = max(len(f["input_ids"]) for f in features)
    batch: dict[str, Any] = {}
    ids = torch.full((len(features), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(features), width), dtype=torch.long)
    types = torch.zeros((len(features), width), dtype=torch.long) if "token_type_ids" in features[0] else None
    for i, f in enumerate(features):
        n = len(f["input_ids"])
        ids[i, :n] = torch.tensor(f["input_ids"])
        mask[i, :n] = 1
        if types is not None:
            types[i, :n] = torch.tensor(f["token_type_ids"])
    batch["input_ids"], batch["attention_mask"] = ids.to(device), mask.to(device)
    if types is not None:
        batch["token_type_ids"] = types.to(device)
    return batch


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length (longest first, so an out-of-memory shows up at once)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
