"""Losses over 2-way logits and soft labels; each entry is its own file (see `_registry`)."""

from trainer.losses._registry import LOSSES, Loss, make_loss, ramp, register_loss, registered_losses, two_class

__all__ = ["LOSSES", "Loss", "make_loss", "ramp", "register_loss", "registered_losses", "two_class"]
