"""Row formats of the reference sandbox, validation with file/line/field errors, and stable row ids.

Two task types share one convention: the positive class is 1. Preference rows: label "B" -> 1 ("A" -> 0), the
prediction is P(second answer is better). Binary rows: label True -> 1, the prediction is P(choice is correct).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

SPLITS: tuple[str, ...] = ("train_label", "train_unlabel", "test")
"""The three files of a dataset; train_label keeps its labels in the public tree, the other two lose them."""

HIDDEN_SPLITS: tuple[str, ...] = ("train_unlabel", "test")
HIDDEN_FIELDS: frozenset[str] = frozenset({"label", "subset", "difficulty"})
"""Fields removed from hidden splits; `subset` and `difficulty` would let an agent score itself per slice."""


class TaskType(StrEnum):
    PREFERENCE = "preference"
    BINARY = "binary"


class DatasetFormatError(ValueError):
    """A row or file that does not follow the format; the message names file, line and field."""

    def __init__(self, path: Path | str, line: int | None, field: str | None, message: str) -> None:
        self.path, self.line, self.field = str(path), line, field
        where = self.path + (f":{line}" if line is not None else "") + (f" field '{field}'" if field else "")
        super().__init__(f"{where}: {message}")


class _Row(BaseModel):
    model_config = ConfigDict(extra="allow", str_strip_whitespace=False)

    id: str | None = None
    subset: str | None = None
    difficulty: str | int | float | None = None


class PreferenceRow(_Row):
    """`{prompt, first, second, label: "A"|"B"}`: which of two answers is better."""

    prompt: str
    first: str
    second: str
    label: Literal["A", "B"] | None = None

    def target(self) -> int | None:
        return None if self.label is None else int(self.label == "B")


class BinaryRow(_Row):
    """`{question, choice, label: bool}`: is `choice` a correct answer to `question`."""

    question: str
    choice: str
    label: bool | None = None
    consistency_id: str | int | None = None
    consistency_key: str | int | None = None
    answer: str | int | float | None = None

    @field_validator("label", mode="before")
    @classmethod
    def _strict_bool(cls, value: Any) -> Any:
        if value is None or isinstance(value, bool):
            return value
        raise ValueError(f"label must be true or false, got {value!r}")

    def target(self) -> int | None:
        return None if self.label is None else int(self.label)


Row = PreferenceRow | BinaryRow
ROW_MODELS: dict[TaskType, type[PreferenceRow | BinaryRow]] = {
    TaskType.PREFERENCE: PreferenceRow,
    TaskType.BINARY: BinaryRow,
}
_PUBLIC_FIELDS: dict[TaskType, frozenset[str]] = {
    task: frozenset(model.model_fields) - HIDDEN_FIELDS for task, model in ROW_MODELS.items()
}
_CONTENT_FIELDS: dict[TaskType, tuple[str, ...]] = {
    TaskType.PREFERENCE: ("prompt", "first", "second"),
    TaskType.BINARY: ("question", "choice", "consistency_id", "consistency_key"),
}


def detect_task(record: dict[str, Any]) -> TaskType:
    if "prompt" in record and "first" in record:
        return TaskType.PREFERENCE
    if "question" in record and "choice" in record:
        return TaskType.BINARY
    raise ValueError("row is neither preference {prompt, first, second} nor binary {question, choice}")


def target_of(label: Any, task: TaskType) -> int:
    """The 0/1 class of a raw label value."""
    row = ROW_MODELS[task]
    if task is TaskType.PREFERENCE:
        return int(row.model_validate({"prompt": "", "first": "", "second": "", "label": label}).label == "B")
    return int(row.model_validate({"question": "", "choice": "", "label": label}).label)


def content_id(row: Row, split: str, occurrence: int = 0) -> str:
    """A stable id from the public content only: never the label, or the id would give the label away."""
    task = TaskType.PREFERENCE if isinstance(row, PreferenceRow) else TaskType.BINARY
    content = [str(getattr(row, name)) for name in _CONTENT_FIELDS[task]]
    digest = hashlib.sha256(json.dumps([split, occurrence, *content]).encode()).hexdigest()[:16]
    return f"{split}-{digest}"


def _error_field(error: ValidationError) -> str | None:
    first = error.errors()[0]
    return ".".join(str(p) for p in first["loc"]) or None


def parse_rows(
    lines: Iterable[str], path: Path | str, task: TaskType | None = None, require_label: bool = False
) -> tuple[TaskType, list[Row]]:
    """Validate JSONL lines into rows of one task type; the first bad line raises `DatasetFormatError`."""
    rows: list[Row] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetFormatError(path, number, None, f"not valid JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise DatasetFormatError(path, number, None, "each line must be a JSON object")
        try:
            row_task = detect_task(record)
        except ValueError as exc:
            raise DatasetFormatError(path, number, None, str(exc)) from None
        if task is None:
            task = row_task
        elif row_task is not task:
            raise DatasetFormatError(path, number, None, f"a {row_task} row in a {task} dataset")
        try:
            row = ROW_MODELS[task].model_validate(record)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise DatasetFormatError(path, number, _error_field(exc), first["msg"]) from None
        if require_label and row.label is None:
            raise DatasetFormatError(path, number, "label", "missing: labeled data needs a label on every row")
        rows.append(row)
    if task is None:
        raise DatasetFormatError(path, None, None, "file has no rows")
    return task, rows


def read_rows(path: Path, task: TaskType | None = None, require_label: bool = False) -> tuple[TaskType, list[Row]]:
    if not path.is_file():
        raise DatasetFormatError(path, None, None, "file not found")
    with path.open(encoding="utf-8") as handle:
        return parse_rows(handle, path, task, require_label)


def assign_ids(rows: list[Row], split: str, path: Path | str) -> None:
    """Give rows without an id a content id; refuse duplicate ids (they would make scores ambiguous)."""
    seen: Counter[str] = Counter()
    ids: set[str] = set()
    for number, row in enumerate(rows, start=1):
        if row.id is None:
            base = content_id(row, split)
            row.id = content_id(row, split, seen[base]) if seen[base] else base
            seen[base] += 1
        if row.id in ids:
            raise DatasetFormatError(path, number, "id", f"duplicate id {row.id!r}")
        ids.add(row.id)


def public_record(row: Row, hide: bool) -> dict[str, Any]:
    """The row as a sandbox may see it; hidden splits keep only known public fields (unknown extras could leak)."""
    record = row.model_dump(exclude_none=True)
    if not hide:
        return record
    task = TaskType.PREFERENCE if isinstance(row, PreferenceRow) else TaskType.BINARY
    return {key: value for key, value in record.items() if key in _PUBLIC_FIELDS[task]}


def jsonl_line(record: dict[str, Any]) -> str:
    """One record as `write_jsonl` writes it (sorted keys, UTF-8 kept), newline included."""
    return json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    """Write atomically: a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(jsonl_line(record))
    tmp.replace(path)


def iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
