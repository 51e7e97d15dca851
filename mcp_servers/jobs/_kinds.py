"""Job kinds by name: a kind is a function `(spec: dict, ctx: JobContext) -> dict` run in a worker process.

Kinds are registered as import paths, so registering one costs nothing and the function (and torch) is imported
only inside the worker.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

_KINDS: dict[str, str] = {}


def register_job_kind(name: str, target: str) -> None:
    """Register `module:function` under `name` (re-registering the same target is a no-op)."""
    if ":" not in target:
        raise ValueError(f"job kind target must be 'module:function', got {target!r}")
    if _KINDS.get(name, target) != target:
        raise ValueError(f"job kind {name!r} is already registered as {_KINDS[name]}")
    _KINDS[name] = target


def job_kinds() -> dict[str, str]:
    return dict(_KINDS)


def load_job_function(target: str) -> Callable[..., dict[str, Any]]:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)
