"""`train_only_on_confident_labels`: drop rows whose weak confidence is in the uncertain band, then SFT."""

from dataclasses import dataclass
from typing import Annotated

import numpy as np
from pydantic import Field

from trainer.ideas._common import fit_and_predict
from trainer.ideas._registry import IdeaConfig, IdeaContext, IdeaResult, register_idea
from trainer.training import ConfigError


@dataclass
class ConfidentConfig(IdeaConfig):
    low: Annotated[float, Field(ge=0.0, le=1.0)] = 0.25
    """Rows with weak P(class 1) in [low, high] are dropped (the reference's band)."""
    high: Annotated[float, Field(ge=0.0, le=1.0)] = 0.75
    """Upper edge of the dropped band."""
    min_rows: Annotated[int, Field(ge=1, le=100_000_000)] = 32
    """If fewer rows survive, widen nothing and keep the most confident `min_rows` instead."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.low > self.high:
            raise ConfigError("low", f"the band's lower edge {self.low} is above high={self.high}")


@register_idea("train_only_on_confident_labels", ConfidentConfig)
def run(cfg: ConfidentConfig, ctx: IdeaContext) -> IdeaResult:
    """Strong SFT on the weak labels the weak model is confident about."""
    weak = ctx.weak_artifact().aligned(ctx.train_unlabel)
    keep = np.flatnonzero((weak < cfg.low) | (weak > cfg.high))
    if len(keep) < cfg.min_rows:
        keep = np.argsort(-np.abs(weak - 0.5))[: cfg.min_rows]
    rows = [ctx.train_unlabel.rows[i] for i in keep]
    preds, metrics = fit_and_predict(ctx, rows, (weak[keep] > 0.5).astype(np.float32))
    return ctx.result(preds, kept_fraction=len(keep) / len(weak), **metrics)
