"""Rows to model inputs: the reference's prompt templates for causal LMs, text pairs for encoders.

Causal LMs read `Question: {prompt}\\nAnswer A: {first}\\nAnswer B: {second}\\nLabel:` (preference) or
`Question: {question}\\nAnswer: {choice}\\nLabel:` (binary) and are scored on the next token, " A"/" B" or
" False"/" True". Truncation never drops an answer option or the `Label:` suffix: the question loses its middle
first, then (only if the options alone overflow) each option loses its middle. The reference cut the prompt's tail,
which could silently remove "Answer B".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trainer.data import BinaryRow, PreferenceRow, Row, TaskType

ELLIPSIS = " ... "
"""Marks a cut so the model sees that text is missing rather than a sentence that runs on."""

LABEL_WORDS: dict[TaskType, tuple[str, str]] = {
    TaskType.PREFERENCE: (" A", " B"),
    TaskType.BINARY: (" False", " True"),
}
"""Answer tokens for class 0 and class 1; the leading space is how they follow `Label:` in running text."""


def task_of(rows: Sequence[Row]) -> TaskType:
    if not rows:
        raise ValueError("no rows")
    return TaskType.PREFERENCE if isinstance(rows[0], PreferenceRow) else TaskType.BINARY


def label_token_ids(tokenizer: Any, task: TaskType) -> tuple[int, int]:
    """Single-token ids of the two answers; refuse tokenizers that split them (scoring would be ambiguous)."""
    ids = []
    for word in LABEL_WORDS[task]:
        pieces = tokenizer(word, add_special_tokens=False)["input_ids"]
        if len(pieces) != 1:
            pieces = tokenizer(word.strip(), add_special_tokens=False)["input_ids"]
        if len(pieces) != 1:
            raise ValueError(f"label word {word!r} is not a single token for this tokenizer: {pieces}")
        ids.append(int(pieces[0]))
    return ids[0], ids[1]


def _segments(row: Row) -> tuple[list[str], list[bool]]:
    """Template pieces and whether each is variable text (truncatable) or fixed scaffolding."""
    if isinstance(row, PreferenceRow):
        parts = ["Question: ", row.prompt, "\nAnswer A: ", row.first, "\nAnswer B: ", row.second, "\nLabel:"]
    elif isinstance(row, BinaryRow):
        parts = ["Question: ", row.question, "\nAnswer: ", row.choice, "\nLabel:"]
    else:  # pragma: no cover - Row is a closed union
        raise TypeError(type(row))
    return parts, [i % 2 == 1 for i in range(len(parts))]


def render_prompt(row: Row) -> str:
    """The full untruncated prompt (for logging, critiques and vLLM string prompts)."""
    return "".join(_segments(row)[0])


def _cut_middle(ids: list[int], keep: int, ellipsis: list[int]) -> list[int]:
    if len(ids) <= keep:
        return ids
    if keep <= len(ellipsis):
        return ids[: max(keep, 0)]
    room = keep - len(ellipsis)
    head = (room + 1) // 2
    return ids[:head] + ellipsis + ids[len(ids) - (room - head) :]


def encode_prompt(row: Row, tokenizer: Any, max_length: int) -> list[int]:
    """Token ids of the prompt, at most `max_length`, with every option and the `Label:` suffix intact."""
    parts, variable = _segments(row)
    pieces = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in parts]
    ellipsis = tokenizer(ELLIPSIS, add_special_tokens=False)["input_ids"]
    bos = [tokenizer.bos_token_id] if getattr(tokenizer, "add_bos_token", False) and tokenizer.bos_token_id else []
    fixed = len(bos) + sum(len(p) for p, v in zip(pieces, variable, strict=True) if not v)
    budget = max_length - fixed
    if budget <= 0:
        raise ValueError(f"max_length {max_length} cannot hold the template's fixed text ({fixed} tokens)")
    var_idx = [i for i, v in enumerate(variable) if v]
    question, options = var_idx[0], var_idx[1:]
    option_len = sum(len(pieces[i]) for i in options)
    if option_len + len(pieces[question]) > budget:
        # The question gives way first: options are what the label is about.
        pieces[question] = _cut_middle(pieces[question], max(budget - option_len, 0), ellipsis)
        if option_len > budget:
            share = budget // len(options)
            for i in options:
                pieces[i] = _cut_middle(pieces[i], share, ellipsis)
    return bos + [t for p in pieces for t in p]


def encode_pair(row: Row, tokenizer: Any, max_length: int) -> dict[str, list[int]]:
    """Encoder input as two sequences, encoded separately (a bi-encoder, what sentence encoders are trained as).

    Binary rows: (question, choice); the head reads [u, v, u*v, |u-v|] so "does this choice fit this text" is
    linear in the features. Preference rows: (prompt + first, prompt + second), scored by one reward head
    (Bradley-Terry: P(B) = sigmoid(r_B - r_A)). A cross-encoded (question, choice) pair with mean pooling learned
    nothing in 1.4 epochs on the sentiment testbed: the choice's few tokens drown in the pooled text.
    """
    if isinstance(row, PreferenceRow):
        a = tokenizer(row.prompt, row.first, truncation="longest_first", max_length=max_length)
        b = tokenizer(row.prompt, row.second, truncation="longest_first", max_length=max_length)
    else:
        a = tokenizer(row.question, truncation=True, max_length=max_length)
        b = tokenizer(row.choice, truncation=True, max_length=max_length)
    return {"input_ids": list(a["input_ids"]), "pair_input_ids": list(b["input_ids"])}
