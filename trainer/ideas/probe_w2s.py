"""`probe_w2s`: relabel or filter weak labels with a probe on frozen strong features, then SFT (EleutherAI)."""

from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from trainer.classifier import EncoderClassifier, load_classifier
from trainer.ideas._common import fit_and_predict
from trainer.ideas._elicit import choice_keys, text_embeddings
from trainer.ideas._registry import IdeaConfig, IdeaContext, IdeaResult, register_idea
from trainer.inference import embed
from trainer.probes import PerKeyProbe, apply_probe, make_probe, registered_probes
from trainer.training import ConfigError


@dataclass
class ProbeConfig(IdeaConfig):
    probe: Annotated[str, Field(min_length=1, max_length=64)] = "logreg"
    """Probe registry name: knn, logreg, topo. Measured on sentiment seed 0 (weak labels 74.6 % right), filter
    mode: logreg keeps 81.1 % right labels, knn and topo 77.8 %."""
    mode: Literal["relabel", "filter"] = "filter"
    """relabel (train on the probe's labels) or filter (drop the rows where probe and weak disagree most)."""
    contamination: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.2
    """Fraction dropped in filter mode."""
    hard_labels: bool = True
    """Harden the final training labels at 0.5."""

    def __post_init__(self) -> None:
        super().__post_init__()
        probes = registered_probes()
        if self.probe not in probes:
            raise ConfigError("probe", f"unknown probe {self.probe!r}; available: {', '.join(sorted(probes))}")


@register_idea("probe_w2s", ProbeConfig)
def run(cfg: ProbeConfig, ctx: IdeaContext) -> IdeaResult:
    """Probe-corrected weak labels (knn / logreg / topo on frozen strong features), then strong SFT."""
    weak = ctx.weak_artifact().aligned(ctx.train_unlabel)
    probe = make_probe(cfg.probe)
    rows = ctx.train_unlabel.rows
    frozen = load_classifier(cfg.strong.model, ctx.train_unlabel.task, cfg.strong.max_length)
    if isinstance(frozen, EncoderClassifier) and ctx.train_unlabel.task == "binary":
        # Encoder binary rows: probe the texts, one answer at a time (see PerKeyProbe).
        features = text_embeddings(frozen, rows)  # type: ignore[arg-type]
        probe = PerKeyProbe(probe, choice_keys(rows))  # type: ignore[arg-type]
    else:
        features = embed(frozen, rows, cfg.strong.eval_batch_size)
    del frozen
    outcome = apply_probe(probe, features, weak, cfg.mode, cfg.contamination)  # type: ignore[arg-type]
    labels = (outcome.labels > 0.5).astype(np.float32) if cfg.hard_labels else outcome.labels
    preds, metrics = fit_and_predict(ctx, [rows[i] for i in outcome.indices], labels)
    agree = float(((outcome.probe > 0.5) == (weak > 0.5)).mean())
    return ctx.result(preds, probe_weak_agreement=agree, kept=len(outcome.indices), **metrics)
