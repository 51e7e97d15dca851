"""`entropy`: soft cross-entropy plus an entropy penalty on the student's predictions (EleutherAI's log-entropy).

Like logconf it rewards the student for being confident, but through its entropy rather than a hardened copy of its
predictions; the weight ramps in over `warmup_frac`. `balance_batch` centres weak labels in log-odds space first.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from trainer.losses._registry import ramp, register_loss, two_class


@register_loss("entropy")
@dataclass
class LogEntropy:
    aux_coef: float = 0.5
    """Final weight of the entropy term (the cross-entropy term gets 1 - weight)."""
    warmup_frac: float = 0.1
    """Fraction of training over which the weight ramps in."""
    balance_batch: bool = False
    """Mean-centre the weak labels' log-odds in each batch."""

    def __call__(self, logits: torch.Tensor, labels: torch.Tensor, step_frac: float) -> torch.Tensor:
        logits, labels = logits.float(), labels.float()
        if self.balance_batch:
            odds = torch.logit(labels.clamp(1e-6, 1 - 1e-6))
            labels = torch.sigmoid(odds - odds.mean())
        coef = self.aux_coef * ramp(step_frac, self.warmup_frac)
        log_q = F.log_softmax(logits, dim=-1)
        entropy = -(log_q.exp() * log_q).sum(-1).mean()
        return (1 - coef) * F.cross_entropy(logits, two_class(labels)) + coef * entropy
