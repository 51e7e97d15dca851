"""`vanilla_w2s`: fine-tune the strong model on the weak model's labels for train_unlabel (Burns et al.)."""

from dataclasses import dataclass

import numpy as np

from trainer.ideas._common import fit_and_predict
from trainer.ideas._registry import IdeaConfig, IdeaContext, IdeaResult, register_idea


@dataclass
class VanillaConfig(IdeaConfig):
    hard_labels: bool = True
    """Train on argmax weak labels (the reference); False keeps the soft probabilities (use strong.loss=soft_xent)."""


@register_idea("vanilla_w2s", VanillaConfig)
def run(cfg: VanillaConfig, ctx: IdeaContext) -> IdeaResult:
    """Strong student SFT on weak labels of train_unlabel."""
    weak = ctx.weak_artifact().aligned(ctx.train_unlabel)
    labels = (weak > 0.5).astype(np.float32) if cfg.hard_labels else weak
    preds, metrics = fit_and_predict(ctx, ctx.train_unlabel.rows, labels)
    return ctx.result(preds, weak_positive_rate=float((weak > 0.5).mean()), **metrics)
