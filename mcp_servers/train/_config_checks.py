"""What the train server checks in a client's config itself: only what is the server's own. Types, bounds and names
(models, losses, loss parameters, idea options) are the config classes' own checks (`trainer.training.TrainConfig`,
the ideas' configs), run here before a job exists so a bad value is refused at the call, never queued."""

from __future__ import annotations

from typing import Any

from mcp_servers.jobs import JobError
from trainer.ideas import IdeaConfig, get_idea, idea_defaults
from trainer.training import ConfigError, TrainConfig, apply_overrides

SERVER_OWNED = ("device",)
"""Config fields a client may not set: a job runs on the device of the slot it was given."""

FIX = "call describe_training for every field's type, bounds and the valid names"


def _refuse_server_owned(overrides: dict[str, Any], path: str = "config") -> None:
    for key, value in overrides.items():
        if key.split(".")[-1] in SERVER_OWNED:
            raise JobError(f"{path}.{key}: the server chooses the device of each job", "drop it from config")
        if isinstance(value, dict):
            _refuse_server_owned(value, f"{path}.{key}")


def train_config(overrides: dict[str, Any], base: TrainConfig | None = None) -> TrainConfig:
    """The TrainConfig of an 'sft' or 'weak' request: `base` (the defaults) with the client's fields on top."""
    _refuse_server_owned(overrides)
    try:
        return apply_overrides(base or TrainConfig(), overrides, "config")
    except ConfigError as exc:
        raise JobError(str(exc), FIX) from None


def idea_config(idea: str, dataset: str, overrides: dict[str, Any]) -> IdeaConfig:
    """The idea's config for an 'idea' request: its defaults, the dataset, the client's options on top."""
    _refuse_server_owned(overrides)
    if "dataset" in overrides:
        raise JobError("config.dataset: the dataset is start_training's own argument", "drop it from config")
    try:
        get_idea(idea)
    except ValueError as exc:
        raise JobError(str(exc), FIX) from None
    try:  # the dataset's pinned weak side under the client's options, as `w2s run` has it
        return apply_overrides(idea_defaults(idea, dataset), {**overrides, "dataset": dataset}, "config")
    except ConfigError as exc:
        raise JobError(str(exc), FIX) from None


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
