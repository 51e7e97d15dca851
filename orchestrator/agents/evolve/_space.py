"""The search space: a genome is one idea configuration (idea, its options, strong-student hyperparameters, loss and
its parameters, a post-hoc label transformation of the predictions), and every genome is checked against the
trainer's own config classes and registries before it is run.

Only values listed here are ever generated; each list is filtered against the trainer's registries at first use,
so a loss or probe removed from the trainer is never proposed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from typing import Any

IDEA_SPACE: dict[str, dict[str, list[Any]]] = {
    "vanilla_w2s": {"hard_labels": [True, False]},
    "train_only_on_confident_labels": {"low": [0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4],
                                       "high": [0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9]},
    "probe_w2s": {"probe": ["logreg", "knn", "topo"], "mode": ["filter", "relabel"],
                  "contamination": [0.05, 0.1, 0.2, 0.3, 0.4], "hard_labels": [True, False]},
    "ue_zeroshot": {"temperature": [0.02, 0.05, 0.1, 0.2], "balance": [True, False]},
    "ue_fewshot": {"mix": [0.25, 0.5, 0.75], "balance": [True, False]},
}
"""Ideas the search may run and the values of their options. `critic` is left out: its generation costs about a
second per row on a CPU, and it measured below the weak model (docs/results.md)."""

STRONG_SPACE: dict[str, list[Any]] = {
    "strong.lr": [1e-4, 2e-4, 5e-4, 1e-3],
    "strong.lora_r": [4, 8, 16],
    "strong.weight_decay": [0.0, 0.01, 0.1],
    "strong.warmup_frac": [0.0, 0.1, 0.2],
    "strong.epochs": [0.5, 1.0, 1.5],
    "strong.loss": ["xent", "soft_xent", "logconf", "window", "entropy", "kl"],
}
"""Strong-student fields (TrainConfig) the search varies. The weak side is never varied: its artifact is cached
per config and seed, so a changed weak config would retrain the supervisor for every candidate."""

LOSS_PARAMS: dict[str, dict[str, list[Any]]] = {
    "xent": {},
    "soft_xent": {"temperature": [0.5, 1.0, 2.0]},
    "logconf": {"aux_coef": [0.25, 0.5, 0.75], "warmup_frac": [0.1, 0.3], "balance_batch": [False, True]},
    "window": {"radius": [0.1, 0.15, 0.25, "midweak"]},
    "entropy": {"aux_coef": [0.1, 0.25, 0.5], "warmup_frac": [0.1, 0.3]},
    "kl": {"reverse": [False, True]},
}

POSTPROCESS: tuple[str, ...] = ("none", "group_normalize", "consistency_fix")
"""Label transformations of the student's predictions, applied before scoring and before submission:
candidates of a consistency group share probability 1, or the likeliest becomes 1 and the rest 0."""

ORDERED = {key for key, values in {**STRONG_SPACE, **{k: v for s in IDEA_SPACE.values() for k, v in s.items()}}
           .items() if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)}
"""Genes whose values are ordered: mutation prefers a neighbouring value (a local step)."""


class InvalidGenome(ValueError):
    """A genome the trainer would refuse; the message says which value and why."""


@dataclass
class Genome:
    idea: str
    options: dict[str, Any] = field(default_factory=dict)
    """The idea's own options and `strong.*` overrides, as `make_config` takes them."""
    postprocess: str = "none"

    @property
    def key(self) -> str:
        """Identity for de-duplication: two genomes with the same key are the same experiment."""
        return json.dumps(self.to_dict(), sort_keys=True)

    def to_dict(self) -> dict[str, Any]:
        return {"idea": self.idea, "options": dict(sorted(self.options.items())), "postprocess": self.postprocess}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Genome:
        if not isinstance(data, dict) or not isinstance(data.get("idea"), str):
            raise InvalidGenome("a genome is a JSON object with an 'idea' string")
        options = data.get("options", {})
        if not isinstance(options, dict):
            raise InvalidGenome("'options' must be a JSON object")
        return cls(data["idea"], dict(options), str(data.get("postprocess", "none")))

    def describe(self) -> str:
        parts = [f"{k.removeprefix('strong.')}={_short(v)}" for k, v in sorted(self.options.items())]
        if self.postprocess != "none":
            parts.append(f"post={self.postprocess}")
        return f"{self.idea}({', '.join(parts)})"

    def config(self, seed: int, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """The `config` of `start_training(recipe='idea')`: options, the seed, then tier overrides."""
        return {**self.options, "seed": seed, **(extra or {})}


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_short(v)}" for k, v in sorted(value.items())) + "}"
    return f"{value:g}" if isinstance(value, float) else str(value)


@cache
def available() -> tuple[dict[str, dict[str, list[Any]]], dict[str, list[Any]], dict[str, dict[str, list[Any]]]]:
    """IDEA_SPACE, STRONG_SPACE and LOSS_PARAMS restricted to what the installed trainer registers."""
    from trainer.ideas import registered_ideas
    from trainer.losses import registered_losses
    from trainer.probes import registered_probes

    ideas, losses, probes = registered_ideas(), registered_losses(), registered_probes()
    idea_space = {name: {k: [v for v in vs if k != "probe" or v in probes] for k, vs in opts.items()}
                  for name, opts in IDEA_SPACE.items() if name in ideas}
    strong = {k: [v for v in vs if k != "strong.loss" or v in losses] for k, vs in STRONG_SPACE.items()}
    loss_params = {name: params for name, params in LOSS_PARAMS.items() if name in losses}
    return idea_space, strong, loss_params


def validate(genome: Genome, dataset: str, extra: dict[str, Any] | None = None) -> Genome:
    """Raise InvalidGenome unless the trainer accepts the genome's config (the same checks its config classes and
    registries apply when a job starts). `extra` are tier overrides checked together with the genome."""
    from trainer.ideas import make_config
    from trainer.losses import make_loss

    idea_space, _, _ = available()
    if genome.idea not in idea_space:
        raise InvalidGenome(f"idea {genome.idea!r} is not searchable; use one of {sorted(idea_space)}")
    if genome.postprocess not in POSTPROCESS:
        raise InvalidGenome(f"postprocess {genome.postprocess!r} is not one of {POSTPROCESS}")
    if any(key.split(".")[-1] in ("device", "seed") or key.startswith("weak.") for key in genome.options):
        raise InvalidGenome("a genome may not set the device, the seed or the weak model")
    try:
        config = make_config(genome.idea, dataset=dataset, **genome.config(0, extra))
        make_loss(config.strong.loss, **config.strong.loss_params)
    except (TypeError, ValueError, KeyError) as exc:
        raise InvalidGenome(f"{genome.describe()}: {exc}") from None
    return genome


def baselines() -> list[Genome]:
    """Every searchable idea at its defaults (vanilla first): the population's starting point."""
    idea_space, _, _ = available()
    order = ["vanilla_w2s", *sorted(k for k in idea_space if k != "vanilla_w2s")]
    return [Genome(name) for name in order if name in idea_space]
