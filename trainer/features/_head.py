"""The fast student tier: a head (linear or small MLP) on the strong model's cached frozen features.

The head reads what the LoRA tier's head reads ([u, v, u*v, |u-v|] for binary encoder rows, one reward per side for
preference rows, the last prompt token's hidden state for causal LMs) and starts as the same zero-shot scorer (the
cosine on encoders, the answer tokens' LM-head rows on causal LMs), centered on the training rows' mean margin as
`TrainConfig.center_start` asks, so both tiers start from one point and differ only in what may move. The MLP adds a
residual branch whose last layer starts at zero.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from trainer.classifier import BinaryClassifier, ClassifierSpec, shift_binary_bias
from trainer.data import Row, TaskType
from trainer.features._store import RowFeatures, feature_store
from trainer.losses import make_loss


class HeadClassifier(BinaryClassifier):
    """A BinaryClassifier whose backbone is frozen and cached: prediction looks rows up in the feature store."""

    def __init__(self, spec: ClassifierSpec, dims: tuple[int, int], head_kind: str = "linear", hidden: int = 256) -> None:
        super().__init__()
        if head_kind not in ("linear", "mlp"):
            raise ValueError(f"head_kind must be 'linear' or 'mlp', got {head_kind!r}")
        self.spec, self.dims, self.head_kind, self.hidden_units = spec, dims, head_kind, hidden
        self.backbone = nn.Identity()
        self.preference = spec.task == TaskType.PREFERENCE.value
        width = self.input_width()
        outputs = 1 if self.preference else 2
        self.head = nn.Linear(width, outputs)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, outputs)) if head_kind == "mlp" \
            else None
        if self.mlp is not None:
            nn.init.zeros_(self.mlp[2].weight)
            nn.init.zeros_(self.mlp[2].bias)

    def input_width(self) -> int:
        da, db = self.dims
        if self.spec.kind == "causal_lm" or self.preference:
            return da
        return da + db * 3

    @property
    def tokenizer(self) -> Any:  # type: ignore[override]
        return feature_store(self.spec.model, self.spec.max_length).extractor.tokenizer

    def init_zero_shot(self, feats: RowFeatures) -> None:
        """Start as the model's own zero-shot scorer (see the module docstring)."""
        with torch.no_grad():
            if self.spec.kind == "causal_lm" and feats.init_w is not None:
                self.head.weight.copy_(torch.from_numpy(feats.init_w))
                self.head.bias.copy_(torch.from_numpy(np.asarray(feats.init_b, dtype=np.float32)))
            elif self.spec.kind != "causal_lm" and not self.preference:
                h = self.dims[0]
                block = slice(2 * h, 3 * h)
                self.head.weight[1, block] = 1.0 / h
                self.head.weight[0, block] = -1.0 / h

    def shift_start(self, mean_margin: float) -> None:
        if not self.preference:  # a preference score is already a difference of two rewards
            shift_binary_bias(self.head, mean_margin)

    def inputs(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Scaled as `EncoderClassifier._combine`: unit-size components in every block."""
        if self.spec.kind == "causal_lm":
            return a
        h = a.shape[1]
        root = h**0.5
        if self.preference:
            return a * root, b * root
        return torch.cat([a * root, b * root, a * b * h, (a - b).abs() * root], dim=-1)

    def _score(self, x: torch.Tensor) -> torch.Tensor:
        out = self.head(x)
        return out + self.mlp(x) if self.mlp is not None else out

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        x = self.inputs(a, b)
        if isinstance(x, tuple):  # preference: softmax over [r_A, r_B] = sigmoid(r_B - r_A)
            return torch.cat([self._score(x[0]), self._score(x[1])], dim=-1)
        return self._score(x)

    def row_features(self, rows: Sequence[Row], progress: bool = False) -> RowFeatures:
        return feature_store(self.spec.model, self.spec.max_length, progress).features(rows)

    @torch.inference_mode()
    def logits_for_rows(self, rows: Sequence[Row], batch_size: int = 4096, progress: bool = False) -> np.ndarray:
        """[N, 2] logits; features come from the cache (rows not in it are extracted once)."""
        if not rows:
            return np.zeros((0, 2), dtype=np.float32)
        feats = self.row_features(rows, progress)
        a, b = torch.from_numpy(feats.a), torch.from_numpy(feats.b)
        was = self.training
        self.eval()
        out = torch.cat([self(a[i:i + batch_size], b[i:i + batch_size]) for i in range(0, len(a), batch_size)])
        self.train(was)
        return out.float().numpy()

    @torch.inference_mode()
    def embed_rows(self, rows: Sequence[Row]) -> np.ndarray:
        """What the head reads, per row (the frozen features probes use)."""
        feats = self.row_features(rows)
        x = self.inputs(torch.from_numpy(feats.a), torch.from_numpy(feats.b))
        return (x[1] - x[0] if isinstance(x, tuple) else x).numpy()

    def head_state(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().cpu() for k, v in self.state_dict().items()}

    def load_head_state(self, state: dict[str, torch.Tensor]) -> None:
        self.load_state_dict(state)

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(self.head_state(), folder / "head.pt")
        meta = {**asdict(self.spec), "tier": "head", "head_kind": self.head_kind, "head_hidden": self.hidden_units,
                "dims": list(self.dims)}
        (folder / "classifier.json").write_text(json.dumps(meta, indent=2) + "\n")
        return folder


def load_head_checkpoint(folder: Path, meta: dict[str, Any]) -> HeadClassifier:
    spec = ClassifierSpec(**{k: meta[k] for k in ("model", "kind", "task", "max_length", "lora")})
    clf = HeadClassifier(spec, (int(meta["dims"][0]), int(meta["dims"][1])), meta["head_kind"], int(meta["head_hidden"]))
    clf.load_head_state(torch.load(folder / "head.pt", map_location="cpu", weights_only=True))
    return clf.eval()


def train_head(config: Any, rows: Sequence[Row], labels: Sequence[float] | np.ndarray, out_dir: Path | None = None,
               run_name: str = "train", on_log: Callable[[dict[str, Any]], None] | None = None) -> Any:
    """`train()` for `tier="head"`: same config, loss registry, schedule, metrics lines and result type.

    The head tier reads `config.fast_epochs` and `config.fast_lr` (the other tiers' `epochs` / `lr` are tuned for
    training a backbone); `max_steps`, batch size, loss, schedule and seed mean what they mean on the other tiers.
    """
    from trainer.classifier import task_of
    from trainer.training._logging import StepLog
    from trainer.training._loop import TrainResult, lr_factor, seed_everything

    seed_everything(config.seed)
    store = feature_store(config.model, config.max_length, config.progress)
    feats = store.features(rows)
    spec = ClassifierSpec(model=config.model, kind=feats.kind, task=task_of(rows).value, max_length=config.max_length,
                          lora=False)
    clf = HeadClassifier(spec, (feats.a.shape[1], feats.b.shape[1]), config.head_kind, config.head_hidden)
    clf.init_zero_shot(feats)
    a, b = torch.from_numpy(feats.a), torch.from_numpy(feats.b)
    if config.center_start:
        with torch.no_grad():
            start = clf(a, b)
        clf.shift_start(float((start[:, 1] - start[:, 0]).mean()))
    targets = torch.tensor(np.asarray(labels, dtype=np.float32))
    loss_fn = make_loss(config.loss, **config.loss_params)
    micro_per_epoch = math.ceil(len(rows) / config.batch_size)
    total = config.max_steps or max(1, math.ceil(config.fast_epochs * micro_per_epoch / config.grad_accum))
    params = [p for p in clf.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=config.fast_lr, betas=config.betas, weight_decay=config.weight_decay)
    warmup = int(config.warmup_frac * total)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, total, warmup, config.schedule))
    log = StepLog(out_dir, run_name, config, total, micro_per_epoch, on_log)
    rng = random.Random(config.seed)
    queue: list[list[int]] = []
    clf.train()
    for step in range(total):
        loss_sum, agree, seen = 0.0, 0, 0
        for _ in range(config.grad_accum):
            if not queue:
                order = list(range(len(rows)))
                rng.shuffle(order)
                queue = [order[i:i + config.batch_size] for i in range(0, len(order), config.batch_size)][::-1]
            idx = queue.pop()
            y = targets[idx]
            logits = clf(a[idx], b[idx])
            loss = loss_fn(logits.float(), y, step / total)
            (loss / config.grad_accum).backward()
            loss_sum += float(loss.detach()) / config.grad_accum
            agree += int(((logits.detach()[:, 1] > logits.detach()[:, 0]) == (y > 0.5)).sum())
            seen += len(idx)
        grad_norm = float(torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm))
        lr = opt.param_groups[0]["lr"]
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        log.step(step, loss_sum, lr, grad_norm, agree / seen)
    log.close()
    clf.eval()
    checkpoint = clf.save(out_dir / "checkpoint") if out_dir else None
    return TrainResult(clf, checkpoint, log.path, total, log.elapsed(), log.history)
