"""Training configuration: one typed dataclass, each field documented where it is declared (litgpt style)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal


@dataclass
class TrainConfig:
    model: str = "mpnet-base"
    """Registry name (`w2s models`), HF id or local path of the model to fine-tune."""
    seed: int = 0
    """Seeds torch, numpy and Python, the data order and the head's init."""
    epochs: float = 2.0
    """Passes over the data; fractional values stop part-way through the last pass."""
    max_rows: int | None = None
    """Train on a seeded subset of at most this many rows (whole consistency groups); the weak side's data knob:
    `weak.max_rows=200` gives a weaker supervisor and a real ceiling-minus-weak gap on any dataset."""
    max_steps: int | None = None
    """Optimizer steps; overrides `epochs` when set (handy for smoke tests)."""
    batch_size: int = 16
    """Examples per forward pass (micro-batch)."""
    grad_accum: int = 1
    """Micro-batches per optimizer step: the effective batch is batch_size * grad_accum."""
    lr: float = 3e-4
    """Peak learning rate of the backbone (LoRA adapters, or all weights without LoRA)."""
    head_lr: float = 1e-4
    """Learning rate of the encoder's head. Its inputs have unit-size components and are ~1.5k wide, so Adam moves a
    logit by up to about head_lr * 1500 per step: 1e-3 made MiniLM's loss climb to 0.93 within an epoch."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    betas: tuple[float, float] = (0.9, 0.95)
    """AdamW betas (the reference's)."""
    schedule: Literal["linear", "cosine", "constant"] = "linear"
    """Decay after warmup."""
    warmup_frac: float = 0.1
    """Fraction of the optimizer steps spent warming the learning rate up from 0."""
    max_grad_norm: float = 1.0
    """Gradient clipping; the pre-clip norm is logged as grad_norm."""
    max_length: int = 256
    """Tokens per example; prompts are cut in the middle of the question, never in the answer options."""
    tier: Literal["head", "lora", "full"] | None = None
    """What trains: `head` = only a head on the model's cached frozen features (`trainer.features`: seconds on a CPU
    once cached; it reads `fast_epochs` and `fast_lr`), `lora` = LoRA adapters + head, `full` = all weights.
    None follows `lora`. Everything else (loss, batch size, seed, max_rows) means the same on every tier."""
    fast_epochs: float = 10.0
    """Epochs of the `head` tier (the other tiers read `epochs`): a frozen-feature head needs more passes, and they
    cost milliseconds each, so one switch moves a config between tiers without retuning."""
    fast_lr: float = 1e-3
    """Learning rate of the `head` tier's head (the other tiers read `lr` / `head_lr`)."""
    head_kind: Literal["linear", "mlp"] = "linear"
    """Head of the `head` tier: linear (the zero-shot scorer's shape) or linear plus a one-hidden-layer MLP branch."""
    head_hidden: int = 256
    """Hidden units of the `mlp` head."""
    lora: bool = True
    """Train LoRA adapters (peft) instead of all weights (`tier`, when set, decides instead)."""
    lora_r: int = 8
    """LoRA rank."""
    lora_alpha: int = 16
    """LoRA scaling numerator (scale = alpha / r, or alpha / sqrt(r) with rslora)."""
    lora_dropout: float = 0.0
    """Dropout on the LoRA path."""
    rslora: bool = False
    """Rank-stabilised LoRA scaling (the reference uses it with r=32, alpha=32)."""
    lora_targets: tuple[str, ...] | None = None
    """Module names to adapt; None picks them from the per-architecture table in `_lora.py`."""
    loss: str = "xent"
    """Loss registry name (`trainer.losses`): xent, soft_xent, logconf, window, entropy, kl, ..."""
    loss_params: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of the loss, e.g. {"aux_coef": 0.5, "warmup_frac": 0.1} for logconf."""
    precision: Literal["auto", "bf16", "fp16", "fp32"] = "auto"
    """auto = bf16 autocast on GPUs that support it, fp32 on CPU (CPU bf16 is slower without AMX)."""
    device: str = "auto"
    """auto = cuda when available, else cpu."""
    log_every: int = 10
    """Optimizer steps between metric lines (the last step is always logged)."""
    save_every: int | None = None
    """Optimizer steps between intermediate checkpoints; the final checkpoint is always written."""
    eval_batch_size: int = 64
    """Batch size for prediction after training."""
    progress: bool = True
    """Show a tqdm bar."""

    def updated(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed; unknown names raise (typos would otherwise be silently ignored)."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"TrainConfig has no field(s) {sorted(unknown)}")
        return replace(self, **changes)

    @property
    def resolved_tier(self) -> str:
        """`head`, `lora` or `full`: `tier` when set, else what `lora` says."""
        return self.tier or ("lora" if self.lora else "full")

    @property
    def uses_lora(self) -> bool:
        return self.resolved_tier == "lora"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["betas"] = list(self.betas)
        data["lora_targets"] = list(self.lora_targets) if self.lora_targets else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        data = dict(data)
        if "betas" in data:
            data["betas"] = tuple(data["betas"])
        if data.get("lora_targets"):
            data["lora_targets"] = tuple(data["lora_targets"])
        return cls().updated(**data)
