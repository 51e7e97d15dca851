"""Zero-shot scores from the strong model without any labels (what unsupervised-elicitation ideas start from).

- Causal LMs: the untrained answer-token classifier *is* the zero-shot prompt; preference pairs are also scored
  with A and B swapped and averaged, which cancels the model's position bias.
- Encoders (no LM head): cosine similarity of the text's embedding to a verbalized answer (DESIGN: mpnet 75% on
  RT this way). Binary rows compare the question's text (the part after the instruction) with
  `verbalizer.format(choice=...)`; scores are centred per choice (consistency_key), because some verbalizations
  are closer to everything. Preference rows compare the prompt with each answer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from trainer.classifier import EncoderClassifier, load_classifier
from trainer.data import BinaryRow, PreferenceRow, Row
from trainer.ideas._common import members_of
from trainer.inference import predict_proba


def _text_of(question: str) -> str:
    # Testbeds put an instruction, a blank line, then the text; the instruction names every answer and blurs it.
    return question.split("\n\n", 1)[1] if "\n\n" in question else question


def _embed_texts(clf: EncoderClassifier, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """Through the text cache (`trainer.features`): each text is embedded once per model, across runs."""
    from trainer.features import text_cache

    return text_cache(clf.spec.model, clf.spec.max_length).embed(texts, lambda todo: _compute_texts(clf, todo, batch_size))


@torch.inference_mode()
def _compute_texts(clf: EncoderClassifier, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    unique = sorted(set(texts), key=len)
    vecs: dict[str, np.ndarray] = {}
    for i in range(0, len(unique), batch_size):
        chunk = unique[i : i + batch_size]
        enc = clf.tokenizer(chunk, truncation=True, max_length=clf.spec.max_length, padding=True, return_tensors="pt")
        pooled = torch.nn.functional.normalize(clf.pool(enc["input_ids"], enc["attention_mask"]), dim=-1)
        vecs.update(zip(chunk, pooled.float().numpy(), strict=True))
    return np.stack([vecs[t] for t in texts])


def choice_keys(rows: Sequence[BinaryRow]) -> list[str]:
    """What makes two binary rows' answers comparable: the consistency key, else the choice text."""
    return [str(r.consistency_key if r.consistency_key is not None else r.choice) for r in rows]


def text_embeddings(clf: EncoderClassifier, rows: Sequence[BinaryRow]) -> np.ndarray:
    """Unit-norm embedding of each binary row's text (instruction stripped), from an encoder classifier."""
    return _embed_texts(clf, [_text_of(r.question) for r in rows])


def zero_shot_scores(model: str, rows: Sequence[Row], verbalizer: str, temperature: float = 0.05,
                     max_length: int = 256) -> np.ndarray:
    """P(class 1) per row from the untrained strong model."""
    task = "preference" if isinstance(rows[0], PreferenceRow) else "binary"
    clf = load_classifier(model, task, max_length)
    if not isinstance(clf, EncoderClassifier):
        p = predict_proba(clf, rows)
        if task == "preference":
            swapped = [r.model_copy(update={"first": r.second, "second": r.first}) for r in rows]  # type: ignore[union-attr]
            p = (p + 1.0 - predict_proba(clf, swapped)) / 2.0
        return p
    if task == "preference":
        prompts = _embed_texts(clf, [r.prompt for r in rows])  # type: ignore[union-attr]
        a = _embed_texts(clf, [r.first for r in rows])  # type: ignore[union-attr]
        b = _embed_texts(clf, [r.second for r in rows])  # type: ignore[union-attr]
        margin = (prompts * b).sum(1) - (prompts * a).sum(1)
        return (1.0 / (1.0 + np.exp(-margin / temperature))).astype(np.float32)
    binary: list[BinaryRow] = list(rows)  # type: ignore[arg-type]
    texts = _embed_texts(clf, [_text_of(r.question) for r in binary])
    answers = _embed_texts(clf, [verbalizer.format(choice=r.choice) for r in binary])
    sims = (texts * answers).sum(1)
    for idx in members_of(choice_keys(binary)):
        sims[idx] -= sims[idx].mean()
    return (1.0 / (1.0 + np.exp(-sims / temperature))).astype(np.float32)
