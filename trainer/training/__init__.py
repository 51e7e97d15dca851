"""LoRA / full fine-tuning of the binary classifier: `train(TrainConfig(...), rows, labels, out_dir)`."""

from trainer.training._config import TrainConfig, model_problem
from trainer.training._loop import TrainResult, build_model, epoch_batches, lr_factor, seed_everything, train
from trainer.training._lora import LORA_TARGETS, lora_targets
from trainer.training._schema import (
    ConfigError,
    FieldDoc,
    apply_overrides,
    check_fields,
    config_from_dict,
    config_to_dict,
    describe_fields,
)
from trainer.training._tracking import find_mlflow_run

__all__ = [
    "LORA_TARGETS",
    "ConfigError",
    "FieldDoc",
    "TrainConfig",
    "TrainResult",
    "apply_overrides",
    "build_model",
    "check_fields",
    "config_from_dict",
    "config_to_dict",
    "describe_fields",
    "epoch_batches",
    "find_mlflow_run",
    "lora_targets",
    "lr_factor",
    "model_problem",
    "seed_everything",
    "train",
]
