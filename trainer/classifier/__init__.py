"""Binary classifier over HF models: causal-LM answer-token scoring or encoder + head; logits [B, 2] either way."""

from trainer.classifier._batching import Features, collate, encode_rows, length_sorted_batches, sort_keys
from trainer.classifier._model import (
    BinaryClassifier,
    CausalLMClassifier,
    ClassifierSpec,
    EncoderClassifier,
    MaxLengthError,
    check_max_length,
    detect_kind,
    load_checkpoint,
    load_classifier,
    position_limit,
    save_classifier,
    shift_binary_bias,
)
from trainer.classifier._templates import (
    LABEL_WORDS,
    encode_pair,
    encode_prompt,
    label_token_ids,
    render_prompt,
    task_of,
)

__all__ = [
    "LABEL_WORDS",
    "BinaryClassifier",
    "CausalLMClassifier",
    "ClassifierSpec",
    "EncoderClassifier",
    "Features",
    "MaxLengthError",
    "check_max_length",
    "collate",
    "detect_kind",
    "encode_pair",
    "encode_prompt",
    "encode_rows",
    "label_token_ids",
    "length_sorted_batches",
    "load_checkpoint",
    "load_classifier",
    "position_limit",
    "render_prompt",
    "save_classifier",
    "shift_binary_bias",
    "sort_keys",
    "task_of",
]
