"""LoRA / full fine-tuning of the binary classifier: `train(TrainConfig(...), rows, labels, out_dir)`."""

from trainer.training._config import TrainConfig
from trainer.training._loop import TrainResult, build_model, epoch_batches, lr_factor, seed_everything, train
from trainer.training._lora import LORA_TARGETS, lora_targets

__all__ = [
    "LORA_TARGETS",
    "TrainConfig",
    "TrainResult",
    "build_model",
    "epoch_batches",
    "lora_targets",
    "lr_factor",
    "seed_everything",
    "train",
]
