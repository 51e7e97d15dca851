import torch
import torch.nn.functional as F

from trainer.losses import make_loss, ramp


def test_ramp_and_warmup_start_equals_xent() -> None:
    assert ramp(0.0, 0.1) == 0.0 and ramp(0.05, 0.1) == 0.5 and ramp(0.5, 0.1) == 1.0 and ramp(0.3, 0.0) == 1.0
    logits, labels = torch.randn(6, 2), torch.tensor([0.9, 0.1, 0.8, 0.3, 0.6, 0.2])
    loss = make_loss("logconf", aux_coef=0.5, warmup_frac=0.2)
    assert torch.allclose(loss(logits, labels, 0.0), F.cross_entropy(logits, (labels > 0.5).long()))


def test_confident_disagreement_costs_less_after_warmup() -> None:
    # The student confidently says class 1 where the weak label says 0: logconf forgives part of it.
    logits, labels = torch.tensor([[-3.0, 3.0]]), torch.tensor([0.0])
    loss = make_loss("logconf", aux_coef=0.5, warmup_frac=0.1, balance_batch=False)
    assert loss(logits, labels, 1.0) < loss(logits, labels, 0.0)


def test_balanced_hardening_keeps_the_weak_class_ratio() -> None:
    # A student leaning to class 1 on every row: hardened at 0.5 its own targets are all 1, which feeds a collapse;
    # hardened at the batch's weak ratio (half), only its two most confident rows count as 1.
    logits = torch.tensor([[0.0, 3.0], [0.0, 2.0], [0.0, 1.0], [0.0, 0.5]])
    labels = torch.tensor([1.0, 0.0, 1.0, 0.0])
    after = 1.0
    balanced = make_loss("logconf", aux_coef=1.0, warmup_frac=0.0, balance_batch=True)(logits, labels, after)
    at_half = make_loss("logconf", aux_coef=1.0, warmup_frac=0.0, balance_batch=False)(logits, labels, after)
    assert torch.allclose(balanced, F.cross_entropy(logits, torch.tensor([1, 1, 0, 0])))
    assert torch.allclose(at_half, F.cross_entropy(logits, torch.tensor([1, 1, 1, 1])))
