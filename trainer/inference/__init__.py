"""Inference: `predict(checkpoint_or_classifier, rows)` -> P(class 1) per row, via vLLM on GPUs that have it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from trainer.classifier import BinaryClassifier, load_checkpoint
from trainer.data import Row
from trainer.inference._torch import embed, predict_logits, predict_proba
from trainer.inference._vllm import predict_proba_vllm, vllm_available


def predict(
    model: BinaryClassifier | Path | str, rows: Sequence[Row], batch_size: int = 64, backend: str = "auto",
    progress: bool = False,
) -> np.ndarray:
    """P(class 1) for every row in order. `model` is a trained classifier or a checkpoint folder.

    backend: "auto" (vLLM for causal-LM LoRA checkpoints when vllm and CUDA are present), "vllm" or "torch".
    """
    if isinstance(model, BinaryClassifier):
        return predict_proba(model, rows, batch_size, progress)
    folder = Path(model)
    import json

    spec = json.loads((folder / "classifier.json").read_text())
    use_vllm = backend == "vllm" or (
        backend == "auto" and spec["kind"] == "causal_lm" and spec["lora"] and vllm_available()
    )
    if use_vllm:
        return predict_proba_vllm(spec["model"], rows, folder, max_length=spec["max_length"])
    import torch

    clf = load_checkpoint(folder)
    if torch.cuda.is_available():
        clf = clf.to("cuda")
    return predict_proba(clf, rows, batch_size, progress)


__all__ = ["embed", "predict", "predict_logits", "predict_proba", "predict_proba_vllm", "vllm_available"]
