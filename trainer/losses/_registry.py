"""Loss registry: one file per loss; a file registers its dataclass with `@register_loss("name")`.

A loss is a dataclass (its fields are its hyperparameters, documented in place) called as
`loss(logits [B, 2], labels [B] = P(class 1) in [0, 1], step_frac in [0, 1]) -> scalar`. `step_frac` is the
fraction of training done, so warmups are stated as fractions (`warmup_frac`) and survive changes of data size.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import torch

from trainer._registry import Registry, construct


class Loss(Protocol):
    def __call__(self, logits: torch.Tensor, labels: torch.Tensor, step_frac: float) -> torch.Tensor: ...


L = TypeVar("L")
LOSSES: Registry[type] = Registry("loss", package="trainer.losses")
"""Every module of this package is an entry; importing it registers it (no list to edit)."""


def register_loss(name: str) -> Callable[[type[L]], type[L]]:
    return LOSSES.register(name)


def registered_losses() -> dict[str, type]:
    return LOSSES.as_dict()


def make_loss(name: str, **params: Any) -> Loss:
    """Build a loss by name; unknown names and parameters get an error listing what exists."""
    loss: Loss = construct(LOSSES, name, **params)
    return loss


def two_class(labels: torch.Tensor) -> torch.Tensor:
    """[B] P(class 1) -> [B, 2] target distribution."""
    labels = labels.float().clamp(0.0, 1.0)
    return torch.stack([1.0 - labels, labels], dim=-1)


def ramp(step_frac: float, warmup_frac: float) -> float:
    """0 -> 1 linearly over the first `warmup_frac` of training."""
    return 1.0 if warmup_frac <= 0 else min(1.0, max(step_frac, 0.0) / warmup_frac)
