"""vLLM backend for causal LMs: one generated token, logprobs read for the two answer tokens.

Used only when vllm is importable and CUDA is present; imported lazily (never at module import) so CPU hosts and
sandboxes without vllm are unaffected. The LoRA adapter is served with `LoRARequest` instead of being merged.
"""

from __future__ import annotations

import importlib.util
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from trainer.classifier import encode_prompt, label_token_ids
from trainer.data import Row, TaskType


def vllm_available() -> bool:
    if importlib.util.find_spec("vllm") is None:
        return False
    import torch

    return torch.cuda.is_available()


def _two_way(logprobs: dict[int, Any], ids: tuple[int, int]) -> float:
    # A label token outside the returned top-k gets a floor logprob: it was less likely than all 20 listed.
    floor = min((getattr(v, "logprob", v) for v in logprobs.values()), default=0.0) - 1.0
    lp = [getattr(logprobs[i], "logprob", logprobs[i]) if i in logprobs else floor for i in ids]
    m = max(lp)
    e0, e1 = math.exp(lp[0] - m), math.exp(lp[1] - m)
    return e1 / (e0 + e1)


def predict_proba_vllm(
    model: str, rows: Sequence[Row], checkpoint: Path | None = None, max_length: int = 4096, gpu_memory: float = 0.85
) -> np.ndarray:
    """P(class 1) per row from vLLM; `checkpoint` is a folder from `save_classifier` with a LoRA backbone."""
    from transformers import AutoTokenizer
    from vllm import LLM, SamplingParams
    from vllm.lora.request import LoRARequest

    from trainer.classifier import detect_kind, task_of

    path, _ = detect_kind(model)
    tokenizer = AutoTokenizer.from_pretrained(path)
    task = TaskType(task_of(rows).value)
    ids = label_token_ids(tokenizer, task)
    lora = None
    rank = 64
    if checkpoint is not None:
        adapter = Path(checkpoint) / "backbone"
        rank = int(json.loads((adapter / "adapter_config.json").read_text()).get("r", 64))
        lora = LoRARequest("w2s", 1, str(adapter))
    llm = LLM(model=path, enable_lora=lora is not None, max_lora_rank=max(rank, 8), max_model_len=max_length,
              gpu_memory_utilization=gpu_memory)
    prompts = [{"prompt_token_ids": encode_prompt(r, tokenizer, max_length - 1)} for r in rows]
    params = SamplingParams(max_tokens=1, temperature=0.0, logprobs=20, allowed_token_ids=list(ids))
    outputs = llm.generate(prompts, params, lora_request=lora)
    return np.array([_two_way(o.outputs[0].logprobs[0], ids) for o in outputs], dtype=np.float32)
