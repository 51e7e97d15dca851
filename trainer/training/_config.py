"""Training configuration: one typed dataclass that validates itself, each field documented where it is declared
(litgpt style) with its bounds next to it. A value of the wrong type, out of range or naming an unknown model or loss is
refused when the config is built, with the field's name and what it takes (`epochs: expected a number in [0.001,
100], got '1'`), so the CLI and the train server refuse it before a job exists."""

from __future__ import annotations

import re
from dataclasses import field, fields, replace
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, ValidationError
from pydantic.dataclasses import dataclass

from trainer.training._schema import ConfigError, config_from_dict, config_to_dict, validation_problems

_PATH_OR_HF_ID = re.compile(r"[^\x00-\x1f\x7f]*/[^\x00-\x1f\x7f]*")
"""Anything with a slash and no control characters: an HF id (`Qwen/Qwen3-4B-Base`) or a path (`runs/x/checkpoint`,
`/models/m`). A bare word must be a registry name, so a typo (`mpnet-bsae`) is refused instead of sent to the hub."""


def model_problem(name: str) -> str | None:
    """Why `name` cannot be a model (None when it can): neither a registry name nor an HF id or path. Nothing is
    fetched or opened: an HF id or path is taken as is, exactly as transformers would take it."""
    from trainer.models import registered_models

    models = registered_models()
    # printable: a bidi override, a C1 escape or a line separator in a name would spoof where it is shown
    if name in models or (_PATH_OR_HF_ID.fullmatch(name) and name.isprintable()):
        return None
    return (f"unknown model {name!r}: not a registry name ({', '.join(sorted(models))}), an HF id (owner/name) "
            "or a path (printable, with a '/', e.g. ./my-model)")


@dataclass(config=ConfigDict(strict=True, extra="forbid", use_attribute_docstrings=True))
class TrainConfig:
    model: Annotated[str, Field(min_length=1, max_length=1024)] = "mpnet-base"
    """Registry name (`w2s models`), HF id or local path of the model to fine-tune."""
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0
    """Seeds torch, numpy and Python, the data order and the head's init."""
    epochs: Annotated[float, Field(ge=1e-3, le=100)] = 2.0
    """Passes over the data; fractional values stop part-way through the last pass."""
    max_rows: Annotated[int, Field(ge=1, le=100_000_000)] | None = None
    """Train on a seeded subset of at most this many rows (whole consistency groups); the weak side's data knob:
    `weak.max_rows=200` gives a weaker supervisor and a real ceiling-minus-weak gap on any dataset."""
    max_steps: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    """Optimizer steps; overrides `epochs` when set (handy for smoke tests)."""
    batch_size: Annotated[int, Field(ge=1, le=4096)] = 16
    """Examples per forward pass (micro-batch)."""
    grad_accum: Annotated[int, Field(ge=1, le=1024)] = 1
    """Micro-batches per optimizer step: the effective batch is batch_size * grad_accum."""
    lr: Annotated[float, Field(ge=0.0, le=1.0)] = 3e-4
    """Peak learning rate of the backbone (LoRA adapters, or all weights without LoRA)."""
    head_lr: Annotated[float, Field(ge=0.0, le=10.0)] = 1e-4
    """Learning rate of the encoder's head. Its inputs have unit-size components and are ~1.5k wide, so Adam moves a
    logit by up to about head_lr * 1500 per step: 1e-3 made MiniLM's loss climb to 0.93 within an epoch."""
    weight_decay: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    """AdamW weight decay."""
    betas: Annotated[tuple[Annotated[float, Field(ge=0.0, lt=1.0)], Annotated[float, Field(ge=0.0, lt=1.0)]],
                     Field(strict=False)] = (0.9, 0.95)
    """AdamW betas (the reference's)."""
    schedule: Literal["linear", "cosine", "constant"] = "linear"
    """Decay after warmup."""
    warmup_frac: Annotated[float, Field(ge=0.0, le=1.0)] = 0.1
    """Fraction of the optimizer steps spent warming the learning rate up from 0."""
    max_grad_norm: Annotated[float, Field(ge=1e-6, le=1e6)] = 1.0
    """Gradient clipping; the pre-clip norm is logged as grad_norm."""
    max_length: Annotated[int, Field(ge=8, le=131072)] = 256
    """Tokens per example; prompts are cut in the middle of the question, never in the answer options."""
    tier: Literal["head", "lora", "full"] | None = None
    """What trains: `head` = only a head on the model's cached frozen features (`trainer.features`: seconds on a CPU
    once cached; it reads `fast_epochs` and `fast_lr`), `lora` = LoRA adapters + head, `full` = all weights.
    None follows `lora`. Everything else (loss, batch size, seed, max_rows) means the same on every tier."""
    fast_epochs: Annotated[float, Field(ge=1e-3, le=1000)] = 10.0
    """Epochs of the `head` tier (the other tiers read `epochs`): a frozen-feature head needs more passes, and they
    cost milliseconds each, so one switch moves a config between tiers without retuning."""
    fast_lr: Annotated[float, Field(ge=0.0, le=10.0)] = 1e-3
    """Learning rate of the `head` tier's head (the other tiers read `lr` / `head_lr`)."""
    center_start: bool = True
    """Start the head at the zero-shot scorer minus its mean score on the training rows' texts (no label is read), so
    the first step predicts both classes. Uncentered, mpnet's text-answer cosine is positive on every row of both
    testbeds and a short LoRA run (or one with a gentle loss) never left "all True" (docs/results.md). No effect on
    preference rows (their score is already a difference) or on a causal LM's LoRA tier (no head of its own)."""
    head_kind: Literal["linear", "mlp"] = "linear"
    """Head of the `head` tier: linear (the zero-shot scorer's shape) or linear plus a one-hidden-layer MLP branch."""
    head_hidden: Annotated[int, Field(ge=1, le=65536)] = 256
    """Hidden units of the `mlp` head."""
    lora: bool = True
    """Train LoRA adapters (peft) instead of all weights (`tier`, when set, decides instead)."""
    lora_r: Annotated[int, Field(ge=1, le=4096)] = 8
    """LoRA rank."""
    lora_alpha: Annotated[int, Field(ge=1, le=65536)] = 16
    """LoRA scaling numerator (scale = alpha / r, or alpha / sqrt(r) with rslora)."""
    lora_dropout: Annotated[float, Field(ge=0.0, le=0.9)] = 0.0
    """Dropout on the LoRA path."""
    rslora: bool = False
    """Rank-stabilised LoRA scaling (the reference uses it with r=32, alpha=32)."""
    lora_targets: Annotated[tuple[Annotated[str, Field(min_length=1, max_length=256)], ...] | None,
                            Field(strict=False, min_length=1, max_length=64)] = None
    """Module names to adapt; None picks them from the per-architecture table in `_lora.py`."""
    loss: Annotated[str, Field(min_length=1, max_length=64)] = "xent"
    """Loss registry name (`trainer.losses`): xent, soft_xent, logconf, window, entropy, kl, ..."""
    loss_params: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of the loss, e.g. {"aux_coef": 0.5, "warmup_frac": 0.1} for logconf."""
    precision: Literal["auto", "bf16", "fp16", "fp32"] = "auto"
    """auto = bf16 autocast on GPUs that support it, fp32 on CPU (CPU bf16 is slower without AMX)."""
    device: Annotated[str, Field(pattern=r"^(auto|cpu|mps|cuda(:[0-9]{1,3})?)$")] = "auto"
    """auto = cuda when available, else cpu."""
    log_every: Annotated[int, Field(ge=1, le=1_000_000)] = 10
    """Optimizer steps between metric lines (the last step is always logged)."""
    save_every: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    """Optimizer steps between intermediate checkpoints; the final checkpoint is always written."""
    eval_batch_size: Annotated[int, Field(ge=1, le=4096)] = 64
    """Batch size for prediction after training."""
    progress: bool = True
    """Show a tqdm bar."""

    def __post_init__(self) -> None:
        # Names are checked against the registries here, after pydantic has checked every type and bound.
        problem = model_problem(self.model)
        if problem:
            raise ConfigError("model", problem)
        from trainer.losses import registered_losses

        losses = registered_losses()
        if self.loss not in losses:
            raise ConfigError("loss", f"unknown loss {self.loss!r}; available: {', '.join(sorted(losses))}")
        # The loss's own dataclass checks its parameters: unknown names and wrong types are named here too.
        config_from_dict(losses[self.loss], self.loss_params, "loss_params")

    def updated(self, **changes: Any) -> TrainConfig:
        """A validated copy with some fields changed; unknown names are refused (a typo would otherwise be ignored)."""
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            fields_list = ", ".join(f.name for f in fields(self))
            raise ConfigError([(name, f"unknown field; TrainConfig fields: {fields_list}") for name in unknown])
        return replace(self, **changes)

    @property
    def resolved_tier(self) -> str:
        """`head`, `lora` or `full`: `tier` when set, else what `lora` says."""
        return self.tier or ("lora" if self.lora else "full")

    @property
    def uses_lora(self) -> bool:
        return self.resolved_tier == "lora"

    def to_dict(self) -> dict[str, Any]:
        """JSON data (tuples as lists): the one form job specs, metrics files and weak-artifact ids store."""
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: str = "") -> TrainConfig:
        """The inverse of `to_dict`, from JSON data as clients send it: strict types, lists for tuple fields, unknown
        names refused; errors name `path` + the field."""
        return config_from_dict(cls, data, path)


_validated_init = TrainConfig.__init__


def _init(self: TrainConfig, *args: Any, **kwargs: Any) -> None:
    # Building one directly refuses like `from_dict` and `updated` do: one error type, naming the field.
    try:
        _validated_init(self, *args, **kwargs)
    except ValidationError as exc:
        raise validation_problems(exc, TrainConfig) from None


TrainConfig.__init__ = _init  # type: ignore[method-assign]
