"""`soft_xent`: cross-entropy against the weak model's soft label distribution (optionally sharpened)."""

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from trainer.losses._registry import register_loss, two_class


@register_loss("soft_xent")
@dataclass
class SoftXent:
    temperature: float = 1.0
    """Labels are re-tempered in log-odds space: < 1 sharpens them toward hard labels, > 1 flattens them."""

    def __call__(self, logits: torch.Tensor, labels: torch.Tensor, step_frac: float) -> torch.Tensor:
        if self.temperature != 1.0:
            p = labels.float().clamp(1e-6, 1 - 1e-6)
            labels = torch.sigmoid(torch.logit(p) / self.temperature)
        return F.cross_entropy(logits.float(), two_class(labels))
