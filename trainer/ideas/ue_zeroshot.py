"""`ue_zeroshot`: unsupervised elicitation. Strong zero-shot P(class 1) on train_unlabel, consistency-group fix
(highest candidate True, the rest False), class balancing, then SFT of the strong model on those pseudo-labels.
No weak labels are used at all. On encoders the zero-shot score is cosine similarity to verbalized answers.
"""

from dataclasses import dataclass
from typing import Annotated

import numpy as np
from pydantic import Field

from trainer.ideas._common import balance, consistency_fix, fit_and_predict, group_normalize, groups_of
from trainer.ideas._elicit import zero_shot_scores
from trainer.ideas._registry import IdeaConfig, IdeaContext, IdeaResult, register_idea


@dataclass
class ZeroShotConfig(IdeaConfig):
    verbalizer: Annotated[str, Field(min_length=1, max_length=1024)] = "This text is {choice}."
    """Encoders: how a binary row's choice is verbalized before comparing it with the text."""
    temperature: Annotated[float, Field(gt=0.0, le=100.0)] = 0.05
    """Encoders: cosine margins are divided by this before the sigmoid."""
    balance: bool = True
    """Subsample the majority pseudo-label so both classes are equally frequent."""
    sft: bool = True
    """False: skip training and submit the (group-normalized) zero-shot scores on test directly."""


@register_idea("ue_zeroshot", ZeroShotConfig)
def run(cfg: ZeroShotConfig, ctx: IdeaContext) -> IdeaResult:
    """Zero-shot pseudo-labels + consistency fix + balance, then strong SFT (no weak labels)."""
    model = cfg.strong.model
    if not cfg.sft:
        test = zero_shot_scores(model, ctx.test.rows, cfg.verbalizer, cfg.temperature, cfg.strong.max_length)
        return ctx.result(group_normalize(test, groups_of(ctx.test)), sft=False)
    scores = zero_shot_scores(model, ctx.train_unlabel.rows, cfg.verbalizer, cfg.temperature, cfg.strong.max_length)
    labels = consistency_fix(scores, groups_of(ctx.train_unlabel))
    keep = balance(labels, cfg.seed) if cfg.balance else np.arange(len(labels))
    rows = [ctx.train_unlabel.rows[i] for i in keep]
    preds, metrics = fit_and_predict(ctx, rows, labels[keep])
    return ctx.result(preds, pseudo_positive_rate=float(labels.mean()), kept=len(keep), **metrics)
