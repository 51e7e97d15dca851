"""`ue_fewshot`: zero-shot pseudo-labels refined by few-shot passes with pseudo-labeled demonstrations
(2 -> 4 -> 16 shots), consistency fix after each pass, then SFT of the strong model.

Causal LMs: each row's prompt is preceded by k demonstrations (other rows rendered with their current
pseudo-label). Encoders have no in-context learning, so the pass is a nearest-demonstration vote: a row's new
score mixes its zero-shot score with the pseudo-labels of the k rows whose *text* is most similar among rows
offering the *same answer* (same consistency key or choice). Neighbours must share the answer: a row's nearest
text is its own group's other candidate, whose label is the opposite by construction, so an answer-blind vote
pushes every pseudo-label towards its twin's and collapses the student onto the answer alone (measured: test
accuracy exactly 0.5 before this rule).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

import numpy as np
from pydantic import Field

from trainer.classifier import detect_kind, load_classifier, render_prompt
from trainer.ideas._common import balance, consistency_fix, fit_and_predict, groups_of, members_of
from trainer.ideas._elicit import choice_keys, text_embeddings, zero_shot_scores
from trainer.ideas._registry import IdeaConfig, IdeaContext, IdeaResult, register_idea
from trainer.inference import embed, predict_proba
from trainer.probes import knn_indices


@dataclass
class FewShotConfig(IdeaConfig):
    shots: Annotated[tuple[Annotated[int, Field(ge=1, le=1024)], ...],
                     Field(strict=False, min_length=1, max_length=16)] = (2, 4, 16)
    """Demonstrations per pass."""
    verbalizer: Annotated[str, Field(min_length=1, max_length=1024)] = "This text is {choice}."
    """Encoders: verbalization for the zero-shot start (see ue_zeroshot)."""
    temperature: Annotated[float, Field(gt=0.0, le=100.0)] = 0.05
    """Encoders: zero-shot cosine temperature."""
    mix: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    """Encoders: weight of the neighbours' vote against the row's own score in each pass."""
    balance: bool = True
    """Class-balance the final pseudo-labels before SFT."""


def _causal_pass(cfg: FewShotConfig, ctx: IdeaContext, labels: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    rows = ctx.train_unlabel.rows
    clf = load_classifier(cfg.strong.model, ctx.train_unlabel.task, cfg.strong.max_length)
    words = {0: " False", 1: " True"} if ctx.train_unlabel.task == "binary" else {0: " A", 1: " B"}
    shown = []
    for i, row in enumerate(rows):
        demos = rng.choice(np.delete(np.arange(len(rows)), i), size=min(k, len(rows) - 1), replace=False)
        context = "".join(render_prompt(rows[j]) + words[int(labels[j] > 0.5)] + "\n\n" for j in demos)
        field = "prompt" if ctx.train_unlabel.task == "preference" else "question"
        shown.append(row.model_copy(update={field: context + getattr(row, field)}))
    return predict_proba(clf, shown, cfg.strong.eval_batch_size)


def same_answer_neighbours(text_features: np.ndarray, keys: Sequence[str], k: int) -> np.ndarray:
    """[N, k'] indices: each row's k most similar texts among the other rows with the same answer key.

    k' = min(k, largest key's size - 1); a smaller key cycles its fewer neighbours to fill the row, and a row
    alone with its key is its own neighbour (its vote is its current label).
    """
    groups = members_of(keys)
    width = max(1, min(k, max(len(m) for m in groups) - 1))
    out = np.zeros((len(keys), width), dtype=np.int64)
    for members in groups:
        idx = np.asarray(members)
        if len(idx) == 1:
            out[idx] = idx[0]
            continue
        local = knn_indices(text_features[idx], min(width, len(idx) - 1))
        out[idx] = idx[local][:, np.arange(width) % local.shape[1]]
    return out


@register_idea("ue_fewshot", FewShotConfig)
def run(cfg: FewShotConfig, ctx: IdeaContext) -> IdeaResult:
    """Zero-shot, then few-shot passes (2 -> 4 -> 16) with pseudo-labeled demonstrations, then strong SFT."""
    rows, groups = ctx.train_unlabel.rows, groups_of(ctx.train_unlabel)
    scores = zero_shot_scores(cfg.strong.model, rows, cfg.verbalizer, cfg.temperature, cfg.strong.max_length)
    labels = consistency_fix(scores, groups)
    rng = np.random.default_rng(cfg.seed)
    causal = detect_kind(cfg.strong.model)[1] == "causal_lm"
    features, keys = None, None
    if not causal:
        frozen = load_classifier(cfg.strong.model, ctx.train_unlabel.task, cfg.strong.max_length)
        if ctx.train_unlabel.task == "preference":  # (second - first) features; the answer is the order itself
            features, keys = embed(frozen, rows, cfg.strong.eval_batch_size), ["pair"] * len(rows)
        else:
            features, keys = text_embeddings(frozen, rows), choice_keys(rows)  # type: ignore[arg-type]
        del frozen
    for k in cfg.shots:
        if causal:
            scores = _causal_pass(cfg, ctx, labels, k, rng)
        else:
            vote = labels[same_answer_neighbours(features, keys, k)].mean(axis=1)
            scores = (1 - cfg.mix) * scores + cfg.mix * vote
        labels = consistency_fix(scores, groups)
    keep = balance(labels, cfg.seed) if cfg.balance else np.arange(len(labels))
    preds, metrics = fit_and_predict(ctx, [rows[i] for i in keep], labels[keep])
    return ctx.result(preds, pseudo_positive_rate=float(labels.mean()), kept=len(keep), **metrics)
