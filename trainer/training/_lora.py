"""LoRA target modules per architecture, keyed by `config.model_type` (checked against the actual module names)."""

from __future__ import annotations

from typing import Any

_DECODER = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")

LORA_TARGETS: dict[str, tuple[str, ...]] = {
    "mpnet": ("q", "v"),  # MPNetAttention names its projections attn.q / attn.k / attn.v / attn.o
    "bert": ("query", "value"),
    "roberta": ("query", "value"),
    "xlm-roberta": ("query", "value"),
    "deberta-v2": ("query_proj", "value_proj"),
    "distilbert": ("q_lin", "v_lin"),
    "llama": _DECODER,
    "mistral": _DECODER,
    "qwen2": _DECODER,
    "qwen3": _DECODER,
    "qwen2_moe": ("q_proj", "k_proj", "v_proj", "o_proj"),
    "gemma": _DECODER,
    "gemma2": _DECODER,
    "phi3": ("qkv_proj", "o_proj", "gate_up_proj", "down_proj"),
    "qwen": ("c_attn", "c_proj", "w1", "w2"),  # Qwen-1 (remote code)
    "gpt2": ("c_attn", "c_proj", "c_fc"),
}


def lora_targets(model: Any, override: tuple[str, ...] | None = None) -> list[str]:
    """Targets for this model; every name must match at least one module (peft would fail less clearly)."""
    model_type = getattr(model.config, "model_type", "?")
    targets = list(override) if override else list(LORA_TARGETS.get(model_type, ()))
    if not targets:
        raise ValueError(
            f"no LoRA targets known for model_type {model_type!r}; pass TrainConfig.lora_targets "
            f"(known types: {', '.join(sorted(LORA_TARGETS))})"
        )
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    missing = [t for t in targets if t not in names]
    if missing:
        raise ValueError(f"LoRA targets {missing} match no module of this {model_type} model")
    return targets
