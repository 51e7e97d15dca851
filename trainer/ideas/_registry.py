"""Idea registry and the contract every idea follows.

An idea is a function `run(config, ctx) -> IdeaResult` registered with `@register_idea(name, ConfigClass)`, one
per file in this package (adding an idea = adding a file). It receives a typed config and an `IdeaContext` that
exposes the public data only: train_label with labels, train_unlabel and test without. It returns P(class 1) for
every test row plus whatever metrics it wants recorded. Hidden labels are not in the public tree, so an idea cannot
read them even by accident.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, is_dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from trainer._registry import Registry
from trainer.data import PublicSplit, load_split
from trainer.training import TrainConfig, apply_overrides, check_fields
from trainer.weak import WeakArtifact, WeakConfig, build_weak_artifact, default_weak_train, pinned_weak


def default_strong_train() -> TrainConfig:
    """The offline strong student: mpnet-base on the fast tier (a head on its cached frozen features, 10 epochs,
    seconds per run); `--set strong.tier=lora` trains LoRA r=8 on q,v for one epoch instead (minutes per run)."""
    return TrainConfig(model="mpnet-base", tier="head", lora=True, lora_r=8, lora_alpha=16, epochs=1.0, lr=5e-4,
                       head_lr=1e-4, batch_size=16, max_length=256)


@dataclass
class IdeaConfig:
    """Fields every idea shares; an idea's own config subclasses this and adds its knobs."""

    dataset: str = "sentiment"
    """Public dataset to run on."""
    seed: int = 0
    """Seeds the weak model (so each seed has its own weak artifact) and the strong student."""
    weak: TrainConfig = field(default_factory=default_weak_train)
    """How the weak supervisor is trained on train_label (cached as a weak artifact)."""
    strong: TrainConfig = field(default_factory=default_strong_train)
    """How the strong student is trained."""

    def __post_init__(self) -> None:
        # An idea's options carry their bounds next to their docs (`Annotated[float, Field(ge=0, le=1)]`), like
        # TrainConfig's; a config built directly in code is checked against them too, not only one built from data.
        check_fields(self)


@dataclass
class IdeaResult:
    ids: list[str]
    """Test row ids, in the public test file's order."""
    predictions: np.ndarray
    """P(class 1) per test row."""
    metrics: dict[str, Any] = field(default_factory=dict)


class IdeaContext:
    """What an idea may touch: public splits, the weak artifact, a scratch folder."""

    def __init__(self, config: IdeaConfig, out_dir: Path, data_dir: Path | None = None, progress: bool = True) -> None:
        self.config, self.out_dir, self.data_dir, self.progress = config, out_dir, data_dir, progress
        out_dir.mkdir(parents=True, exist_ok=True)

    def split(self, name: str) -> PublicSplit:
        return load_split(self.config.dataset, name, self.data_dir)

    @cached_property
    def train_label(self) -> PublicSplit:
        return self.split("train_label")

    @cached_property
    def train_unlabel(self) -> PublicSplit:
        return self.split("train_unlabel")

    @cached_property
    def test(self) -> PublicSplit:
        return self.split("test")

    def weak_artifact(self) -> WeakArtifact:
        """The weak supervisor for this config and seed (trained once, then read from the cache)."""
        train = self.config.weak.updated(seed=self.config.seed, progress=self.progress)
        return build_weak_artifact(WeakConfig(self.config.dataset, train), self.data_dir)

    def strong_config(self, **changes: Any) -> TrainConfig:
        return self.config.strong.updated(seed=self.config.seed, progress=self.progress, **changes)

    def result(self, predictions: np.ndarray, **metrics: Any) -> IdeaResult:
        return IdeaResult(self.test.ids, np.asarray(predictions, dtype=np.float32), metrics)


C = TypeVar("C", bound=IdeaConfig)
IdeaFn = Callable[[Any, IdeaContext], IdeaResult]


@dataclass(frozen=True)
class IdeaSpec:
    name: str
    config_cls: type[IdeaConfig]
    run: IdeaFn
    summary: str


IDEAS: Registry[IdeaSpec] = Registry("idea", package="trainer.ideas")
"""Every public module of this package is an idea; importing it registers it (no list to edit)."""


def register_idea(name: str, config_cls: type[C]) -> Callable[[Callable[[C, IdeaContext], IdeaResult]], Any]:
    if not (is_dataclass(config_cls) and issubclass(config_cls, IdeaConfig)):
        raise TypeError(f"idea {name!r}: config must be a dataclass subclassing IdeaConfig")

    def wrap(fn: Callable[[C, IdeaContext], IdeaResult]) -> Callable[[C, IdeaContext], IdeaResult]:
        summary = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""
        IDEAS.add(name, IdeaSpec(name, config_cls, fn, summary))
        return fn

    return wrap


def registered_ideas() -> dict[str, IdeaSpec]:
    return IDEAS.as_dict()


def get_idea(name: str) -> IdeaSpec:
    return IDEAS.get(name)


def idea_defaults(name: str, dataset: str | None = None) -> IdeaConfig:
    """The idea's default config on `dataset` (its own default when None), with the weak side that dataset's
    calibration pinned in its public manifest (`trainer.weak.pinned_weak`): an agent's weak supervisor is then the
    one its PGR's weak accuracy was measured with."""
    config = get_idea(name).config_cls()
    target = dataset or config.dataset
    pin = pinned_weak(target)
    return apply_overrides(config, {"dataset": target, "weak": pin}, f"{target} manifest") if pin else config


def make_config(name: str, **overrides: Any) -> IdeaConfig:
    """The idea's config with overrides, every value checked by the config classes (`ConfigError` naming the field
    path, e.g. `strong.lr` or `contamination`); `weak.x` / `strong.x` keys reach into the two TrainConfigs, and so do
    `weak` / `strong` given as dicts of fields (`{"strong": {"tier": "head"}}`, what JSON clients send). The
    dataset's pinned weak side (`idea_defaults`) sits under the overrides: `weak.max_rows=...` still wins."""
    dataset = overrides.get("dataset")
    return apply_overrides(idea_defaults(name, dataset if isinstance(dataset, str) else None), overrides)
