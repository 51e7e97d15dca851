"""`window`: cross-entropy only on examples the student is still unsure about (EleutherAI's confidence window).

An example counts when the student's max probability is below 0.5 + radius; confident examples stop pulling, so
the student is not dragged back onto weak labels it has learned to disagree with. `radius="midweak"` sets the
radius to the median confidence margin of the weak labels in the batch.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from trainer.losses._registry import register_loss, two_class


@register_loss("window")
@dataclass
class ConfidenceWindow:
    radius: float | str = 0.15
    """Half-width of the trained window around 0.5, or "midweak"."""

    def __call__(self, logits: torch.Tensor, labels: torch.Tensor, step_frac: float) -> torch.Tensor:
        logits, labels = logits.float(), labels.float()
        if self.radius == "midweak":
            radius = (labels - 0.5).abs().median()
        else:
            radius = torch.tensor(float(self.radius), device=logits.device)
        uncertain = torch.softmax(logits, dim=-1).max(-1).values.detach() < 0.5 + radius
        if not bool(uncertain.any()):
            return logits.sum() * 0.0  # keeps the graph so backward() still works
        per_row = F.cross_entropy(logits[uncertain], two_class(labels[uncertain]), reduction="sum")
        return per_row / logits.shape[0]
