"""`describe_training`: every valid name and config field a client can send to `start_training`, generated from the
registries' public functions and the config classes themselves (annotations, defaults, bounds, docstrings), so the
answer cannot drift from what the server accepts."""

# no `from __future__ import annotations`: fastmcp and pydantic read these signatures and models.
from dataclasses import fields
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, Field

from mcp_servers.core import READ_ONLY, ServerApp, refusals
from mcp_servers.train._config_checks import SERVER_OWNED
from mcp_servers.train._recipes import RECIPES
from trainer.training import FieldDoc


class ModelChoice(BaseModel):
    name: str
    kind: str
    """`encoder` (a head on the pooled output) or `causal_lm` (answer-token scoring)."""
    hf_id: str
    """The Hugging Face model the offline package carries."""
    description: str


class Choice(BaseModel):
    name: str
    summary: str
    params: list[FieldDoc] = Field(default_factory=list)
    """Its own parameters (a loss's `loss_params`, a probe's, an idea's options), as config fields."""


class PresetChoice(BaseModel):
    name: str
    summary: str
    overrides: dict[str, Any]
    """What the preset sets (`weak.x` / `strong.x` are TrainConfig fields of each side)."""


class TrainingDescription(BaseModel):
    """The valid names and config fields of `start_training`."""

    models: list[ModelChoice]
    model_rule: str
    losses: list[Choice]
    ideas: list[Choice]
    probes: list[Choice]
    presets: list[PresetChoice]
    recipes: list[Choice]
    tiers: list[str]
    train_config: list[FieldDoc]
    """TrainConfig's fields (name, type, default, doc, expected, minimum, maximum, choices): `config` of 'sft' and
    'weak', and `weak` / `strong` of every idea."""
    server_owned: list[str]
    """Fields the server sets itself; a config that sets them is refused."""


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0].strip() if lines else ""


def _module_summary(cls: type) -> str:
    import sys

    return _first_line(getattr(sys.modules.get(cls.__module__), "__doc__", None)) or _first_line(cls.__doc__)


@cache
def describe() -> TrainingDescription:
    """Built once per process: registries are filled at import and do not change while the server runs."""
    from trainer.ideas import IdeaConfig, registered_ideas
    from trainer.losses import registered_losses
    from trainer.models import registered_models
    from trainer.presets import load_preset, registered_presets
    from trainer.probes import registered_probes
    from trainer.training import TrainConfig, describe_fields

    base = {f.name for f in fields(IdeaConfig)}
    train_fields = describe_fields(TrainConfig)
    tiers = next(f.choices for f in train_fields if f.name == "tier") or []
    return TrainingDescription(
        models=[ModelChoice(name=n, kind=s.kind.value, hf_id=s.hf_id, description=s.description)
                for n, s in sorted(registered_models().items())],
        model_rule="a registry name above, or any HF id (owner/name) or path (printable, with a '/'), used as is; "
                   "a bare name that is not registered is refused",
        losses=[Choice(name=n, summary=_module_summary(c), params=describe_fields(c))
                for n, c in sorted(registered_losses().items())],
        ideas=[Choice(name=n, summary=s.summary, params=describe_fields(s.config_cls, skip=base))
               for n, s in sorted(registered_ideas().items())],
        probes=[Choice(name=n, summary=_module_summary(c), params=describe_fields(c))
                for n, c in sorted(registered_probes().items())],
        presets=[PresetChoice(name=n, summary=s, overrides=load_preset(n)) for n, s in registered_presets().items()],
        recipes=[Choice(name=n, summary=_first_line(RECIPES[n].prepare.__doc__)) for n in sorted(RECIPES)],
        tiers=list(tiers),
        train_config=train_fields,
        server_owned=list(SERVER_OWNED),
    )


def recipe_names() -> Any:
    """The registered recipes as a Literal, for `start_training`'s input schema (an enum clients can list)."""
    return Literal[tuple(sorted(RECIPES))]  # type: ignore[valid-type]


def idea_names() -> Any:
    """The registered ideas as a Literal (read when the server is built: ideas are files of the installed trainer)."""
    from trainer.ideas import registered_ideas

    return Literal[tuple(sorted(registered_ideas()))]  # type: ignore[valid-type]


def preset_names() -> Any:
    """The shipped presets as a Literal."""
    from trainer.presets import registered_presets

    return Literal[tuple(registered_presets())]  # type: ignore[valid-type]


def register_discovery(app: "ServerApp[Any]") -> None:
    @app.mcp.tool(annotations=READ_ONLY)
    @refusals
    def describe_training() -> TrainingDescription:
        """Valid names (models, losses, ideas, probes, presets, recipes, tiers) and every TrainConfig field with its
        type, default, bounds and doc: what start_training's arguments and config accept."""
        return describe()
