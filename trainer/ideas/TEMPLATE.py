"""`template`: copy this file to `my_idea.py`, rename the idea and the config, change `run`. That is all.

This example trains the strong student on weak labels sharpened toward 0/1 by a temperature, with the soft
cross-entropy loss. Everything an idea may use: `ctx.train_label` (with labels), `ctx.train_unlabel` and
`ctx.test` (without), `ctx.weak_artifact()` (weak P(class 1) per row), `ctx.strong_config(...)`, `ctx.out_dir`,
and the helpers in `trainer.ideas._common`. Return `ctx.result(test_probabilities, **metrics)`.
Run it: `w2s run --idea template --dataset sentiment --seeds 0 --set temperature=0.5`.
"""

from dataclasses import dataclass
from typing import Annotated

import numpy as np
from pydantic import Field

from trainer.ideas._common import fit_and_predict
from trainer.ideas._registry import IdeaConfig, IdeaContext, IdeaResult, register_idea


@dataclass
class TemplateConfig(IdeaConfig):
    temperature: Annotated[float, Field(gt=0.0, le=100.0)] = 0.5
    """Weak labels are re-tempered in log-odds space; < 1 sharpens them."""


@register_idea("template", TemplateConfig)
def run(cfg: TemplateConfig, ctx: IdeaContext) -> IdeaResult:
    """Example idea: SFT on temperature-sharpened soft weak labels."""
    weak = ctx.weak_artifact().aligned(ctx.train_unlabel)
    odds = np.log(np.clip(weak, 1e-6, 1 - 1e-6) / np.clip(1 - weak, 1e-6, 1))
    labels = 1 / (1 + np.exp(-odds / cfg.temperature))
    preds, metrics = fit_and_predict(ctx, ctx.train_unlabel.rows, labels, ctx.strong_config(loss="soft_xent"))
    return ctx.result(preds, mean_label=float(labels.mean()), **metrics)
