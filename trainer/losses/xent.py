"""`xent`: cross-entropy on hardened labels (argmax of the weak soft label), the plain SFT objective."""

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from trainer.losses._registry import register_loss


@register_loss("xent")
@dataclass
class HardXent:
    threshold: float = 0.5
    """Labels above this become class 1."""

    def __call__(self, logits: torch.Tensor, labels: torch.Tensor, step_frac: float) -> torch.Tensor:
        return F.cross_entropy(logits.float(), (labels > self.threshold).long())
