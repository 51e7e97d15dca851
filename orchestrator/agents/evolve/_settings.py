"""What one evolve run is told (dataset, deadline, population, margins) and the tiers it screens and confirms on."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HEAD_SCREEN: dict[str, Any] = {"strong.tier": "head"}
"""Fast-tier screening. The head reads its own `fast_epochs`/`fast_lr` (the trainer's defaults are tuned for a
frozen-feature head; before they existed, lr 5e-4 for one epoch left it at 0.65 train_label accuracy on sentiment's
weak labels), so the LoRA-side genes mean nothing to a screen and stay frozen: screening ranks the label side."""
LORA_GENES = frozenset({"strong.lr", "strong.lora_r", "strong.epochs", "strong.warmup_frac", "strong.weight_decay"})
"""Genes a head screen cannot see: frozen while screening is on the head tier (confirmations use the defaults)."""


@dataclass
class Settings:
    dataset: str
    until: float
    seed: int = 0
    direction: str | None = None
    population: int = 6
    """Initial candidates screened before the first confirmation."""
    brood: int = 3
    """Children bred per generation."""
    preset: str | None = None
    """Trainer preset passed with every start_training (e.g. 'smoke' for tests)."""
    screen_steps: int = 40
    """Without a fast tier in the trainer, screening is a LoRA run capped at this many optimizer steps."""
    margin_s: float = 15.0
    """Seconds before `until` by which everything is wound down."""
    min_gain: float = 0.003
    """A confirmed candidate is submitted only if its train_label accuracy beats the best submitted by this much."""
    max_submissions: int = 20
    workdir: Path = field(default_factory=Path.cwd)


def tier_overrides(preset: str | None, screen_steps: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(screen, confirm) config overrides: the fast head tier when the trainer has one, else a shorter LoRA run."""
    from dataclasses import fields

    from trainer.training import TrainConfig

    if "tier" in {f.name for f in fields(TrainConfig)}:
        return dict(HEAD_SCREEN), {"strong.tier": "lora"}
    steps = screen_steps
    if preset:
        from trainer.presets import load_preset

        preset_steps = load_preset(preset).get("strong.max_steps")
        if isinstance(preset_steps, int):
            return {}, {}  # the preset already caps the run: screening and confirming are the same run
    return {"strong.max_steps": steps}, {}
