from __future__ import annotations

from dataclasses import fields

from orchestrator.agents.evolve._settings import HEAD_SCREEN, tier_overrides
from trainer.training import TrainConfig


def test_screening_tier_follows_the_trainer() -> None:
    screen, confirm = tier_overrides(None, 40)
    if "tier" in {f.name for f in fields(TrainConfig)}:
        assert screen == HEAD_SCREEN and confirm == {"strong.tier": "lora"}
    else:
        assert screen == {"strong.max_steps": 40} and confirm == {}
