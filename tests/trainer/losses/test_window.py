import torch

from trainer.losses import make_loss


def test_window_ignores_confident_rows() -> None:
    logits = torch.tensor([[4.0, -4.0], [0.1, 0.0]])
    labels = torch.tensor([1.0, 1.0])
    loss = make_loss("window", radius=0.15)(logits, labels, 0.5)
    only_uncertain = make_loss("window", radius=0.15)(logits[1:], labels[1:], 0.5) / 2
    assert torch.allclose(loss, only_uncertain)
    none = make_loss("window", radius=0.0)(torch.tensor([[4.0, -4.0]], requires_grad=True), labels[:1], 0.5)
    assert float(none) == 0.0
    assert torch.isfinite(make_loss("window", radius="midweak")(logits, torch.tensor([0.9, 0.6]), 0.0))
