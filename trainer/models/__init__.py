"""Model registry: `minilm-l6` (weak), `mpnet-base` (strong), `smollm2-135m` (causal LM), or any HF id / path."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trainer.models._registry import (
    MODELS,
    MissingAssetError,
    ModelKind,
    ModelSpec,
    ResolvedModel,
    register_model,
    registered_models,
    resolve_model,
)

if TYPE_CHECKING:
    import typer


def cli_app() -> typer.Typer:
    """`w2s-admin models ...` (list, prepare), imported on call so importing the registry stays cheap."""
    from trainer.models._cli import app

    return app


__all__ = [
    "MODELS",
    "MissingAssetError",
    "ModelKind",
    "ModelSpec",
    "ResolvedModel",
    "cli_app",
    "register_model",
    "registered_models",
    "resolve_model",
]
