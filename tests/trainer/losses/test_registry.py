import pytest
import torch

from trainer.losses import make_loss, registered_losses

EXPECTED = {"xent", "soft_xent", "logconf", "window", "entropy", "kl"}


def test_all_losses_registered() -> None:
    assert EXPECTED <= set(registered_losses())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_loss_is_finite_and_differentiable(name: str) -> None:
    logits = torch.randn(8, 2, requires_grad=True)
    labels = torch.rand(8)
    for frac in (0.0, 0.5, 1.0):
        loss = make_loss(name)(logits, labels, frac)
        assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert logits.grad is not None


def test_unknown_names_are_explained() -> None:
    with pytest.raises(ValueError, match="available"):
        make_loss("nope")
    with pytest.raises(ValueError, match="no parameter"):
        make_loss("xent", bogus=1)


def test_kl_zero_at_perfect_fit_and_soft_xent_same_gradient() -> None:
    labels = torch.tensor([0.2, 0.9])
    logits = torch.log(torch.stack([1 - labels, labels], -1)).requires_grad_()
    assert abs(float(make_loss("kl")(logits, labels, 0).detach())) < 1e-5
    a = logits.detach().clone().requires_grad_()
    b = logits.detach().clone().requires_grad_()
    make_loss("kl")(a + 0.3, labels, 0).backward()
    make_loss("soft_xent")(b + 0.3, labels, 0).backward()
    assert torch.allclose(a.grad, b.grad, atol=1e-6)
