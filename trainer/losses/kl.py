"""`kl`: KL(weak || strong). Same gradient as soft_xent, but 0 at a perfect fit, so loss curves read as distance."""

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from trainer.losses._registry import register_loss, two_class


@register_loss("kl")
@dataclass
class KLDiv:
    reverse: bool = False
    """KL(strong || weak) instead: mode-seeking, lets the student ignore weak mass it finds implausible."""

    def __call__(self, logits: torch.Tensor, labels: torch.Tensor, step_frac: float) -> torch.Tensor:
        target = two_class(labels).clamp(1e-6, 1.0)
        log_q = F.log_softmax(logits.float(), dim=-1)
        if self.reverse:
            return (log_q.exp() * (log_q - target.log())).sum(-1).mean()
        return (target * (target.log() - log_q)).sum(-1).mean()
