"""Loss registry: one file per loss; a file registers its dataclass with `@register_loss("name")`.

A loss is a dataclass (its fields are its hyperparameters, documented in place) called as
`loss(logits [B, 2], labels [B] = P(class 1) in [0, 1], step_frac in [0, 1]) -> scalar`. `step_frac` is the
fraction of training done, so warmups are stated as fractions (`warmup_frac`) and survive changes of data size.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import fields
from typing import Any, Protocol, TypeVar

import torch


class Loss(Protocol):
    def __call__(self, logits: torch.Tensor, labels: torch.Tensor, step_frac: float) -> torch.Tensor: ...


L = TypeVar("L")
_LOSSES: dict[str, type] = {}


def register_loss(name: str):
    def wrap(cls: type[L]) -> type[L]:
        if name in _LOSSES and _LOSSES[name] is not cls:
            raise ValueError(f"loss {name!r} is already registered")
        _LOSSES[name] = cls
        return cls

    return wrap


def _discover() -> None:
    # Every module in this package is an entry; importing it registers it (no list to edit).
    import trainer.losses as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"trainer.losses.{info.name}")


def registered_losses() -> dict[str, type]:
    _discover()
    return dict(_LOSSES)


def make_loss(name: str, **params: Any) -> Loss:
    """Build a loss by name; unknown names and parameters get an error listing what exists."""
    losses = registered_losses()
    if name not in losses:
        raise ValueError(f"unknown loss {name!r}; available: {', '.join(sorted(losses))}")
    cls = losses[name]
    known = {f.name for f in fields(cls)}
    unknown = set(params) - known
    if unknown:
        raise ValueError(f"loss {name!r} has no parameter(s) {sorted(unknown)}; it takes {sorted(known) or 'none'}")
    return cls(**params)


def two_class(labels: torch.Tensor) -> torch.Tensor:
    """[B] P(class 1) -> [B, 2] target distribution."""
    labels = labels.float().clamp(0.0, 1.0)
    return torch.stack([1.0 - labels, labels], dim=-1)


def ramp(step_frac: float, warmup_frac: float) -> float:
    """0 -> 1 linearly over the first `warmup_frac` of training."""
    return 1.0 if warmup_frac <= 0 else min(1.0, max(step_frac, 0.0) / warmup_frac)
