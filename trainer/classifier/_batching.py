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


def _pad(seqs: Sequence[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(x) for x in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, x in enumerate(seqs):
        ids[i, : len(x)] = torch.tensor(x, dtype=torch.long)
        mask[i, : len(x)] = 1
    return ids, mask


def collate(features: Sequence[Features], pad_id: int, device: torch.device | str = "cpu") -> dict[str, Any]:
    """`input_ids`/`attention_mask` (and `pair_input_ids`/`pair_attention_mask` for encoders), right-padded."""
    batch: dict[str, Any] = {}
    for key, prefix in (("input_ids", ""), ("pair_input_ids", "pair_")):
        if key in features[0]:
            ids, mask = _pad([f[key] for f in features], pad_id)
            batch[key], batch[f"{prefix}attention_mask"] = ids.to(device), mask.to(device)
    return batch


def sort_keys(features: Sequence[Features]) -> list[tuple[int, int]]:
    """(length, hash of the first sequence): rows sharing a question sort next to each other, so a batch holds
    whole consistency groups and the encoder can encode each question once."""
    return [(len(f["input_ids"]), hash(tuple(f["input_ids"]))) for f in features]


def length_sorted_batches(lengths: Sequence[int] | Sequence[tuple[int, int]], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length (longest first, so an out-of-memory shows up at once)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
