"""`critic`: the strong side writes critiques, a weak judge reads them (the reference's critic baseline).

1. A causal LM critic (default SmolLM2) writes a short critique of every row (it never sees labels).
2. A weak judge (the weak model config) is trained on train_label rows with their critiques appended.
3. Optional RL: GRPO (TRL) on the critic over train_label prompts, rewarded by how much its critique raises the
   judge's probability of the true label over the same row without critique ("reward when the judge flips").
4. The judge labels train_unlabel (with fresh critiques); the strong model is fine-tuned on those labels.
Expensive on CPU (generation for every row); the test runs it on a handful of rows with SmolLM2.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

import numpy as np
import torch
from pydantic import Field

from trainer.classifier import detect_kind, render_prompt
from trainer.data import BinaryRow, PreferenceRow, Row
from trainer.ideas._common import consistency_fix, fit_and_predict, group_ids, members_of
from trainer.ideas._elicit import choice_keys
from trainer.ideas._registry import IdeaConfig, IdeaContext, IdeaResult, register_idea
from trainer.inference import predict_proba
from trainer.training import ConfigError, model_problem, train


@dataclass
class CriticConfig(IdeaConfig):
    critic_model: Annotated[str, Field(min_length=1, max_length=1024)] = "smollm2-135m"
    """Causal LM that writes critiques (the reference uses the strong model itself)."""
    max_new_tokens: Annotated[int, Field(ge=1, le=4096)] = 24
    """Critique length in tokens."""
    grpo_steps: Annotated[int, Field(ge=0, le=100_000)] = 2
    """GRPO updates of the critic (0 skips the RL step)."""
    grpo_rows: Annotated[int, Field(ge=1, le=100_000_000)] = 16
    """train_label rows used as GRPO prompts."""
    num_generations: Annotated[int, Field(ge=2, le=256)] = 2
    """Critiques sampled per prompt in GRPO (the group the advantage is computed over)."""
    batch_size: Annotated[int, Field(ge=1, le=4096)] = 16
    """Generation batch size."""
    label_rows: Annotated[int, Field(ge=1, le=100_000_000)] | None = None
    """Judge trained on about this many train_label rows (whole consistency groups, random per seed; None = all).
    Generation dominates CPU time."""
    unlabel_rows: Annotated[int, Field(ge=1, le=100_000_000)] | None = None
    """Strong student trained on the judge's labels of this many train_unlabel rows (None = all)."""
    fix_labels: bool = True
    """Harden the judge's scores with the consistency fix where rows have groups (one True per group), else at the
    quantile matching train_label's class ratio. At 0.5, a 200-row judge called 97.5 % of sentiment rows True and
    the student learned one class (transfer 0.5)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        problem = model_problem(self.critic_model)
        if problem:
            raise ConfigError("critic_model", problem)


def judge_labels(probs: np.ndarray, groups: Sequence[str | None], positive_rate: float,
                 answers: Sequence[str] | None = None) -> np.ndarray:
    """Hard labels from judge scores: per-group argmax for grouped rows, a class-ratio threshold for the rest.

    With `answers` (each row's answer key), grouped scores are first centred per answer in logit space: a judge
    that rates one answer higher everywhere would otherwise pick that answer in every group, and the student would
    learn the answer alone (measured: transfer exactly 0.5).
    """
    probs = np.asarray(probs, dtype=np.float32)
    sizes = Counter(g for g in groups if g is not None)
    groups = [g if g is not None and sizes[g] > 1 else None for g in groups]  # a lone candidate has no rival
    scores = probs.astype(np.float64)
    if answers is not None:
        logits = np.log(np.clip(scores, 1e-6, 1 - 1e-6)) - np.log(np.clip(1 - scores, 1e-6, 1 - 1e-6))
        for idx in members_of([a if g is not None else None for a, g in zip(answers, groups, strict=True)]):
            logits[idx] -= logits[idx].mean()
        scores = np.where([g is not None for g in groups], 1 / (1 + np.exp(-logits)), scores)
    labels = consistency_fix(scores, groups)
    free = np.asarray([g is None for g in groups])
    if free.any():
        threshold = np.quantile(probs[free], 1.0 - positive_rate)
        labels[free] = (probs[free] > threshold).astype(np.float32)
    return labels


def _subset(rows: Sequence[Row], targets: np.ndarray | None, n: int | None, seed: int) -> tuple[list[Row], np.ndarray | None]:
    if n is None or n >= len(rows):
        return list(rows), targets
    if n < 1:
        raise ValueError(f"row caps must be at least 1, got {n}")
    # Whole consistency groups, so the judge's labels can still be fixed per group.
    groups = members_of([g if g is not None else f"row {i}" for i, g in enumerate(group_ids(rows))])
    chosen: list[int] = []
    for j in np.random.default_rng(seed).permutation(len(groups)):
        if len(chosen) >= n:
            break
        chosen += groups[j]
    keep = np.sort(np.asarray(chosen))
    return [rows[i] for i in keep], None if targets is None else np.asarray(targets)[keep]


def critic_prompt(row: Row) -> str:
    ask = "Which answer is better, and why?" if isinstance(row, PreferenceRow) else "Is this answer correct, and why?"
    return f"{render_prompt(row).removesuffix('Label:')}{ask} One sentence.\nCritique:"


def with_critique(rows: Sequence[Row], critiques: Sequence[str]) -> list[Row]:
    field = "prompt" if isinstance(rows[0], PreferenceRow) else "question"
    return [r.model_copy(update={field: f"{getattr(r, field)}\n\nCritique: {c.strip()}"})
            for r, c in zip(rows, critiques, strict=True)]


@torch.inference_mode()
def generate(model: torch.nn.Module, tokenizer: object, prompts: Sequence[str], max_new: int, batch: int) -> list[str]:
    tokenizer.padding_side = "left"  # type: ignore[attr-defined]  # generation continues from the right edge
    out: list[str] = []
    for i in range(0, len(prompts), batch):
        enc = tokenizer(list(prompts[i : i + batch]), return_tensors="pt", padding=True)  # type: ignore[operator]
        gen = model.generate(**enc, max_new_tokens=max_new, do_sample=False, pad_token_id=tokenizer.pad_token_id)  # type: ignore[attr-defined]
        out += tokenizer.batch_decode(gen[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)  # type: ignore[attr-defined]
    return [text.split("\n")[0] for text in out]


def _grpo(cfg: CriticConfig, ctx: IdeaContext, critic: torch.nn.Module, tok: object, judge: torch.nn.Module) -> torch.nn.Module:
    from datasets import Dataset
    from peft import LoraConfig
    from transformers.trainer_callback import PrinterCallback
    from trl import GRPOConfig, GRPOTrainer

    rows = ctx.train_label.rows[: cfg.grpo_rows]
    targets = ctx.train_label.targets()[: cfg.grpo_rows]
    base = predict_proba(judge, rows)  # judge without critique

    def reward(prompts: list[str], completions: list[str], index: list[int], **_: object) -> list[float]:
        shown = with_critique([rows[i] for i in index], [c.split("\n")[0] for c in completions])
        p = predict_proba(judge, shown)
        return [float((p[j] if targets[i] else 1 - p[j]) - (base[i] if targets[i] else 1 - base[i]))
                for j, i in enumerate(index)]

    data = Dataset.from_dict({"prompt": [critic_prompt(r) for r in rows], "index": list(range(len(rows)))})
    args = GRPOConfig(output_dir=str(ctx.out_dir / "grpo"), max_steps=cfg.grpo_steps, learning_rate=1e-5,
                      per_device_train_batch_size=cfg.num_generations, num_generations=cfg.num_generations,
                      max_completion_length=cfg.max_new_tokens, report_to=[], save_strategy="no", logging_steps=1,
                      use_cpu=not torch.cuda.is_available(), bf16=False, seed=cfg.seed, disable_tqdm=not ctx.progress)
    trainer = GRPOTrainer(model=critic, reward_funcs=reward, args=args, train_dataset=data, processing_class=tok,
                          peft_config=LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"]))
    if not ctx.progress:  # without tqdm, transformers prints every log dict to stdout instead
        trainer.remove_callback(PrinterCallback)
    trainer.train()
    return trainer.model.merge_and_unload() if hasattr(trainer.model, "merge_and_unload") else trainer.model


@register_idea("critic", CriticConfig)
def run(cfg: CriticConfig, ctx: IdeaContext) -> IdeaResult:
    """Critiques by a causal LM, a weak judge trained on them (+ GRPO of the critic), judge labels -> strong SFT."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path, _ = detect_kind(cfg.critic_model)
    tok = AutoTokenizer.from_pretrained(path)
    tok.pad_token = tok.pad_token or tok.eos_token
    critic = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    labeled, targets = _subset(ctx.train_label.rows, np.asarray(ctx.train_label.targets()), cfg.label_rows, cfg.seed)
    crit = generate(critic, tok, [critic_prompt(r) for r in labeled], cfg.max_new_tokens, cfg.batch_size)
    judge_cfg = cfg.weak.updated(seed=cfg.seed, progress=ctx.progress)
    judge = train(judge_cfg, with_critique(labeled, crit), targets, ctx.out_dir / "judge").classifier
    if cfg.grpo_steps > 0:
        critic = _grpo(cfg, ctx, critic, tok, judge)
    unlabel, _ = _subset(ctx.train_unlabel.rows, None, cfg.unlabel_rows, cfg.seed + 1)
    crit_u = generate(critic, tok, [critic_prompt(r) for r in unlabel], cfg.max_new_tokens, cfg.batch_size)
    labels = predict_proba(judge, with_critique(unlabel, crit_u), judge_cfg.eval_batch_size)
    del critic, judge
    answers = choice_keys(unlabel) if isinstance(unlabel[0], BinaryRow) else None  # type: ignore[arg-type]
    hard = (judge_labels(labels, group_ids(unlabel), float(np.mean(targets)), answers) if cfg.fix_labels
            else (labels > 0.5).astype(np.float32))
    preds, metrics = fit_and_predict(ctx, unlabel, hard)
    return ctx.result(preds, judge_positive_rate=float((labels > 0.5).mean()), label_positive_rate=float(hard.mean()),
                      judge_rows=len(labeled), example_critique=crit_u[0], **metrics)
