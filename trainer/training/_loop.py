"""The training loop, nanoGPT-style: tokenize once, length-grouped batches, AdamW + warmup/decay, clip, log, save.

Faster than transformers.Trainer here because (1) the causal head multiplies 2 rows of the LM head, not the whole
vocabulary, (2) batches are grouped by length so little compute goes to padding, (3) nothing else runs per step.
`benchmarks/train_bench.py` measures the difference.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trainer.classifier import (
    BinaryClassifier,
    collate,
    encode_rows,
    load_classifier,
    save_classifier,
    sort_keys,
    task_of,
)
from trainer.data import Row
from trainer.losses import make_loss
from trainer.training._config import TrainConfig
from trainer.training._logging import StepLog
from trainer.training._lora import lora_targets


@dataclass
class TrainResult:
    classifier: BinaryClassifier
    """The trained model, in memory and in eval mode (predict with `trainer.inference.predict_proba`)."""
    checkpoint: Path | None
    """Folder with adapter + head + classifier.json (None when no out_dir was given)."""
    metrics_path: Path | None
    steps: int
    wall_s: float
    history: list[dict[str, Any]] = field(default_factory=list)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_device(config: TrainConfig) -> torch.device:
    if config.device != "auto":
        return torch.device(config.device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _precision(config: TrainConfig, device: torch.device) -> str:
    if config.precision != "auto":
        return config.precision
    return "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "fp32"


def build_model(config: TrainConfig, task: str, device: torch.device) -> BinaryClassifier:
    """Base model + (LoRA adapters) + head, on `device`; frozen weights in bf16 when training in bf16."""
    precision = _precision(config, device)
    load_dtype = "bf16" if precision == "bf16" and config.uses_lora else "fp32"
    clf = load_classifier(config.model, task, config.max_length, load_dtype)
    if config.uses_lora:
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(
            r=config.lora_r,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            use_rslora=config.rslora,
            target_modules=lora_targets(clf.backbone, config.lora_targets),
        )
        clf.backbone = get_peft_model(clf.backbone, lora)
        clf.spec = dataclasses.replace(clf.spec, lora=True)
    if hasattr(clf, "head"):
        clf.head.float()  # the head trains in fp32 whatever the backbone's dtype
    return clf.to(device)


CENTER_SAMPLE_ROWS = 256
"""Rows whose start margins set the offset: the mean of 256 margins is within a few hundredths of the whole set's."""


def center_start(clf: BinaryClassifier, rows: Sequence[Row], config: TrainConfig) -> None:
    """`TrainConfig.center_start` for the backbone tiers: the head's offset at minus the mean start margin of a
    seeded sample of the training rows (texts only)."""
    from trainer.inference import predict_logits

    sample = random.Random(f"center-{config.seed}").sample(list(rows), min(len(rows), CENTER_SAMPLE_ROWS))
    start = predict_logits(clf, sample, config.eval_batch_size)
    clf.shift_start(float((start[:, 1] - start[:, 0]).mean()))


def epoch_batches(lengths: Sequence[int] | Sequence[tuple[int, int]], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffle, sort within windows of 50 batches by length, shuffle the batches: random order, little padding.

    With `sort_keys` as lengths, rows sharing a question land in the same batch (encoded once by the encoder)."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = batch_size * 50
    batches: list[list[int]] = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def lr_factor(step: int, total: int, warmup: int, schedule: str) -> float:
    if step < warmup:
        return (step + 1) / (warmup + 1)
    progress = (step - warmup) / max(1, total - warmup)
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    return max(0.0, 1.0 - progress)


def limit_rows(rows: Sequence[Row], labels: Sequence[float] | np.ndarray, max_rows: int | None,
               seed: int) -> tuple[list[Row], np.ndarray]:
    """A seeded subset of at most `max_rows` rows that keeps consistency groups whole (all rows when None)."""
    labels = np.asarray(labels, dtype=np.float32)
    if max_rows is None or max_rows >= len(rows):
        return list(rows), labels
    if max_rows < 1:
        raise ValueError(f"max_rows must be at least 1, got {max_rows}")
    groups: dict[object, list[int]] = {}
    for i, row in enumerate(rows):
        key = getattr(row, "consistency_id", None)
        groups.setdefault(("g", key) if key is not None else ("r", i), []).append(i)
    order = list(groups.values())
    random.Random(f"max_rows-{seed}").shuffle(order)
    keep: list[int] = []
    for members in order:
        if len(keep) + len(members) > max_rows and keep:
            continue
        keep += members
        if len(keep) >= max_rows:
            break
    keep.sort()
    return [rows[i] for i in keep], labels[keep]


def train(
    config: TrainConfig,
    rows: Sequence[Row],
    labels: Sequence[float] | np.ndarray,
    out_dir: Path | None = None,
    run_name: str = "train",
    on_log: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Fine-tune `config.model` on rows with soft or hard labels (P(class 1)); returns the trained classifier.

    `config.tier` picks what trains: a head on cached frozen features (`head`), LoRA adapters or all weights.

    `on_log(record)` sees every logged metrics record (with `total_steps`); a job runner reports progress from it
    and cancels by raising from it.
    """
    if len(rows) != len(labels) or not rows:
        raise ValueError(f"need one label per row and at least one row (rows={len(rows)}, labels={len(labels)})")
    rows, labels = limit_rows(rows, labels, config.max_rows, config.seed)
    if config.resolved_tier == "head":
        from trainer.features import train_head

        return train_head(config, rows, labels, out_dir, run_name, on_log)
    seed_everything(config.seed)
    device = resolve_device(config)
    clf = build_model(config, task_of(rows).value, device)
    if config.center_start:
        center_start(clf, rows, config)
    features = encode_rows(clf, rows)
    targets = torch.tensor(np.asarray(labels, dtype=np.float32))
    lengths = sort_keys(features)
    loss_fn = make_loss(config.loss, **config.loss_params)

    micro_per_epoch = math.ceil(len(rows) / config.batch_size)
    total = config.max_steps or max(1, math.ceil(config.epochs * micro_per_epoch / config.grad_accum))
    head = [p for n, p in clf.named_parameters() if p.requires_grad and n.startswith("head.")]
    body = [p for n, p in clf.named_parameters() if p.requires_grad and not n.startswith("head.")]
    groups = [{"params": body, "lr": config.lr}] + ([{"params": head, "lr": config.head_lr}] if head else [])
    opt = torch.optim.AdamW(groups, betas=config.betas, weight_decay=config.weight_decay)
    warmup = int(config.warmup_frac * total)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, total, warmup, config.schedule))
    precision = _precision(config, device)
    autocast = (
        torch.autocast(device.type, dtype=torch.bfloat16 if precision == "bf16" else torch.float16)
        if precision in ("bf16", "fp16") and device.type == "cuda"
        else nullcontext()
    )
    log = StepLog(out_dir, run_name, config, total, micro_per_epoch, on_log)
    rng = random.Random(config.seed)
    queue: list[list[int]] = []
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=run_name, disable=not config.progress, leave=False)
    clf.train()
    for step in range(total):
        loss_sum, agree, seen = 0.0, 0, 0
        for _ in range(config.grad_accum):
            if not queue:
                queue = epoch_batches(lengths, config.batch_size, rng)
            idx = queue.pop()
            batch = collate([features[i] for i in idx], clf.pad_id(), device)
            y = targets[idx].to(device)
            with autocast:
                logits = clf(**batch)
            loss = loss_fn(logits.float(), y, step / total)
            (loss / config.grad_accum).backward()
            loss_sum += float(loss.detach()) / config.grad_accum
            agree += int(((logits.detach()[:, 1] > logits.detach()[:, 0]) == (y > 0.5)).sum())
            seen += len(idx)
        grad_norm = float(torch.nn.utils.clip_grad_norm_(body + head, config.max_grad_norm))
        lr = opt.param_groups[0]["lr"]
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        bar.update(1)
        bar.set_postfix(loss=f"{loss_sum:.3f}")
        log.step(step, loss_sum, lr, grad_norm, agree / seen)
        if out_dir and config.save_every and (step + 1) % config.save_every == 0 and step + 1 < total:
            save_classifier(clf, out_dir / f"checkpoint-{step + 1}")
    bar.close()
    log.close()
    clf.eval()
    checkpoint = save_classifier(clf, out_dir / "checkpoint") if out_dir else None
    return TrainResult(clf, checkpoint, log.path, total, log.elapsed(), log.history)
