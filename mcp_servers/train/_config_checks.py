"""Checking client-sent configs before a job exists: unknown names, wrong types and out-of-range values are named."""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import TypeAdapter, ValidationError

from mcp_servers.jobs import JobError
from trainer.ideas import IdeaConfig, make_config
from trainer.training import TrainConfig

_BOUNDS: dict[str, tuple[float, float]] = {
    "epochs": (1e-3, 100), "max_steps": (1, 1_000_000), "batch_size": (1, 4096), "grad_accum": (1, 1024),
    "lr": (1e-9, 1.0), "head_lr": (1e-9, 10.0), "weight_decay": (0.0, 1.0), "warmup_frac": (0.0, 1.0),
    "max_grad_norm": (1e-6, 1e6), "max_length": (8, 131072), "lora_r": (1, 4096), "lora_alpha": (1, 65536),
    "lora_dropout": (0.0, 0.9), "log_every": (1, 1_000_000), "eval_batch_size": (1, 4096), "seed": (0, 2**31 - 1),
    "fast_epochs": (1e-3, 1000), "fast_lr": (1e-9, 10.0), "head_hidden": (1, 65536), "max_rows": (1, 100_000_000),
}
_CLIENT_FORBIDDEN = ("device",)
"""Fields the compute server owns: a job runs on the slot it was given."""


def _type_check(config: Any, name: str) -> None:
    try:
        TypeAdapter(type(config)).validate_python(dataclasses.asdict(config))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise JobError(f"{name}: field {field!r} {first['msg'].lower()}", "fix the value's type") from None


def check_train_config(config: TrainConfig, name: str = "config") -> TrainConfig:
    _type_check(config, name)
    for field, (low, high) in _BOUNDS.items():
        value = getattr(config, field)
        if value is not None and not (low <= value <= high):
            raise JobError(f"{name}: {field}={value} is out of range", f"use a value in [{low:g}, {high:g}]")
    return config


def train_config(overrides: dict[str, Any], base: TrainConfig | None = None) -> TrainConfig:
    bad = [key for key in overrides if key in _CLIENT_FORBIDDEN]
    if bad:
        raise JobError(f"config may not set {bad}", "the server chooses the device of each job")
    try:
        config = (base or TrainConfig()).updated(**overrides)
    except (TypeError, ValueError) as exc:
        raise JobError(f"config: {exc}", f"valid fields: {', '.join(f.name for f in dataclasses.fields(TrainConfig))}") from None
    return check_train_config(config)


def idea_config(idea: str, dataset: str, overrides: dict[str, Any]) -> IdeaConfig:
    nested = [f"{key}.{sub}" for key, value in overrides.items() if isinstance(value, dict) for sub in value]
    if any(key.split(".")[-1] in _CLIENT_FORBIDDEN for key in [*overrides, *nested]):
        raise JobError("config may not set the device", "the server chooses the device of each job")
    try:
        config = make_config(idea, dataset=dataset, **overrides)
    except (TypeError, ValueError) as exc:
        raise JobError(str(exc), "see `w2s ideas` or the idea's config class for its options") from None
    _type_check(config, f"idea {idea}")
    check_train_config(config.weak, "weak")
    check_train_config(config.strong, "strong")
    return config


def preset_config(preset: str | None, recipe: str) -> dict[str, Any]:
    """A trainer preset as config for this recipe: all of it for 'idea', its [strong] part for 'sft', [weak] for
    'weak'. The client's own config is applied on top."""
    if preset is None:
        return {}
    from trainer.presets import load_preset, registered_presets

    try:
        flat = load_preset(preset)
    except ValueError:
        raise JobError(f"unknown preset {preset!r}", f"use one of: {', '.join(registered_presets())}") from None
    if recipe == "idea":
        return flat
    side = "weak." if recipe == "weak" else "strong."
    return {key.removeprefix(side): value for key, value in flat.items() if key.startswith(side)}

