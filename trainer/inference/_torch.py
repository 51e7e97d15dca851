"""Batched inference with transformers: length-sorted batches, P(class 1) for every row, in the input's order."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from trainer.classifier import BinaryClassifier, collate, encode_rows, length_sorted_batches, sort_keys
from trainer.data import Row


def _device(clf: BinaryClassifier) -> torch.device:
    return next(clf.parameters()).device


@torch.inference_mode()
def predict_logits(clf: BinaryClassifier, rows: Sequence[Row], batch_size: int = 64, progress: bool = False) -> np.ndarray:
    """[N, 2] logits. Sorting by length means each batch pads to nearly its own length (the measured 3x+ win)."""
    if not rows:
        return np.zeros((0, 2), dtype=np.float32)
    cached = getattr(clf, "logits_for_rows", None)
    if cached is not None:  # the head tier reads cached frozen features
        return cached(rows, progress=progress)
    features = encode_rows(clf, rows)
    out = np.zeros((len(rows), 2), dtype=np.float32)
    was_training = clf.training
    clf.eval()
    device = _device(clf)
    from tqdm.auto import tqdm

    batches = length_sorted_batches(sort_keys(features), batch_size)
    autocast = device.type == "cuda" and next(clf.backbone.parameters()).dtype == torch.bfloat16
    for idx in tqdm(batches, desc="predict", disable=not progress, leave=False):
        batch = collate([features[i] for i in idx], clf.pad_id(), device)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
            out[idx] = clf(**batch).float().cpu().numpy()
    clf.train(was_training)
    return out


def predict_proba(clf: BinaryClassifier, rows: Sequence[Row], batch_size: int = 64, progress: bool = False) -> np.ndarray:
    """[N] P(class 1): P(B better) for preference rows, P(choice correct) for binary rows."""
    logits = predict_logits(clf, rows, batch_size, progress)
    return torch.softmax(torch.from_numpy(logits), dim=-1)[:, 1].numpy()


@torch.inference_mode()
def embed(clf: BinaryClassifier, rows: Sequence[Row], batch_size: int = 64) -> np.ndarray:
    """[N, hidden] frozen features (mean-pooled for encoders, last-token for causal LMs), for probes."""
    cached = getattr(clf, "embed_rows", None)
    if cached is not None:
        return cached(rows)
    features = encode_rows(clf, rows)
    device = _device(clf)
    out: np.ndarray | None = None
    for idx in length_sorted_batches(sort_keys(features), batch_size):
        vecs = clf.features(**collate([features[i] for i in idx], clf.pad_id(), device)).float().cpu().numpy()
        if out is None:
            out = np.zeros((len(rows), vecs.shape[1]), dtype=np.float32)
        out[idx] = vecs
    return out if out is not None else np.zeros((0, 0), dtype=np.float32)
