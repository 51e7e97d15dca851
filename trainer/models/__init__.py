"""Model registry: `minilm-l6` (weak), `mpnet-base` (strong), `smollm2-135m` (causal LM), or any HF id / path."""

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

__all__ = [
    "MODELS",
    "MissingAssetError",
    "ModelKind",
    "ModelSpec",
    "ResolvedModel",
    "register_model",
    "registered_models",
    "resolve_model",
]
