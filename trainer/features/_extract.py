"""Running the frozen strong model once over rows: the same inputs and pooling the LoRA tier's classifier uses."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np
import torch

from trainer.classifier import (
    BinaryClassifier,
    CausalLMClassifier,
    check_max_length,
    collate,
    detect_kind,
    encode_pair,
    encode_prompt,
    length_sorted_batches,
    load_classifier,
    sort_keys,
    task_of,
)
from trainer.data import Row, TaskType


class Extractor:
    """Tokenizer always (row keys need it); the model only when something has to be computed."""

    def __init__(self, model: str, max_length: int, batch_size: int = 64) -> None:
        self.model, self.max_length, self.batch_size = model, max_length, batch_size
        check_max_length(model, max_length)  # before rows are tokenized to a length the model cannot take
        path, kind = detect_kind(model)
        self.path, self.kind = path, kind.value
        self._models: dict[str, BinaryClassifier] = {}

    @cached_property
    def tokenizer(self) -> Any:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(self.path)
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        return tokenizer

    @staticmethod
    def task_of(rows: Sequence[Row]) -> str:
        return task_of(rows).value

    def inputs(self, rows: Sequence[Row]) -> list[dict[str, list[int]]]:
        if self.kind == "causal_lm":
            return [{"input_ids": encode_prompt(r, self.tokenizer, self.max_length)} for r in rows]
        return [encode_pair(r, self.tokenizer, self.max_length) for r in rows]

    def classifier(self, task: str) -> BinaryClassifier:
        if task not in self._models:
            clf = load_classifier(self.model, task, self.max_length, "fp32")
            clf.tokenizer = self.tokenizer
            self._models[task] = clf.eval()
        return self._models[task]

    @torch.inference_mode()
    def compute(self, inputs: Sequence[dict[str, list[int]]], desc: str = "features", progress: bool = True,
                task: str | None = None) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """(a, b, extra) for the inputs, in order; a tqdm bar over batches when `progress`."""
        from tqdm.auto import tqdm

        # The task only changes the causal LM's answer rows (extra); the features are the same for either task.
        clf = self.classifier(task or TaskType.BINARY.value)
        a_out: np.ndarray | None = None
        b_out: np.ndarray | None = None
        batches = length_sorted_batches(sort_keys(inputs), self.batch_size)
        for idx in tqdm(batches, desc=desc, disable=not progress, unit="batch"):
            batch = collate([inputs[i] for i in idx], clf.pad_id())
            if isinstance(clf, CausalLMClassifier):
                a, b = clf.features(**batch), None
            else:
                a, b = clf.sides(**batch)  # type: ignore[operator]
            if a_out is None:
                a_out = np.zeros((len(inputs), a.shape[1]), dtype=np.float32)
                b_out = np.zeros((len(inputs), 0 if b is None else b.shape[1]), dtype=np.float32)
            a_out[idx] = a.float().numpy()
            if b is not None:
                assert b_out is not None
                b_out[idx] = b.float().numpy()
        assert a_out is not None and b_out is not None
        return a_out, b_out, self._extra(clf)

    @staticmethod
    def _extra(clf: BinaryClassifier) -> dict[str, np.ndarray]:
        if not isinstance(clf, CausalLMClassifier):
            return {}
        _, lm_head = clf._parts()
        ids = list(clf.answer_ids)
        bias = getattr(lm_head, "bias", None)
        return {"init_w": lm_head.weight[ids].detach().float().numpy(),
                "init_b": (bias[ids].detach().float().numpy() if bias is not None else np.zeros(2, np.float32))}
