import json
from pathlib import Path

import pytest

from trainer.data import (
    BinaryRow,
    DatasetFormatError,
    PreferenceRow,
    TaskType,
    assign_ids,
    parse_rows,
    public_record,
    read_rows,
    target_of,
    write_jsonl,
)

PREF = {"prompt": "Which is kinder?", "first": "Thanks!", "second": "Go away.", "label": "A", "subset": "hs2"}
BIN = {"question": "2+2?", "choice": "4", "label": True, "consistency_id": 7, "consistency_key": "4", "answer": "4"}


def _lines(*rows: dict) -> list[str]:
    return [json.dumps(r) for r in rows]


def test_round_trip_preserves_every_field(tmp_path: Path) -> None:
    for row in (PREF, BIN | {"difficulty": "hard", "extra": [1, 2]}):
        task, rows = parse_rows(_lines(row), "x.jsonl")
        write_jsonl(tmp_path / "out.jsonl", [r.model_dump(exclude_none=True) for r in rows])
        _, again = read_rows(tmp_path / "out.jsonl", task)
        assert again[0].model_dump(exclude_none=True) == row


def test_targets_follow_the_class_one_convention() -> None:
    assert PreferenceRow.model_validate(PREF).target() == 0
    assert PreferenceRow.model_validate(PREF | {"label": "B"}).target() == 1
    assert BinaryRow.model_validate(BIN).target() == 1
    assert target_of("B", TaskType.PREFERENCE) == 1 and target_of(False, TaskType.BINARY) == 0


@pytest.mark.parametrize(
    ("lines", "line", "field", "needle"),
    [
        (_lines(PREF, PREF | {"label": "C"}), 2, "label", "'A' or 'B'"),
        (_lines(BIN | {"label": "yes"}), 1, "label", "true or false"),
        (_lines(BIN, {"question": "q"}), 2, None, "neither"),
        (["{not json"], 1, None, "not valid JSON"),
        (_lines(PREF, BIN), 2, None, "binary row in a preference dataset"),
        (_lines(BIN | {"choice": 3}), 1, "choice", "string"),
        (["[1, 2]"], 1, None, "JSON object"),
    ],
)
def test_errors_name_file_line_and_field(lines: list[str], line: int, field: str | None, needle: str) -> None:
    with pytest.raises(DatasetFormatError) as caught:
        parse_rows(lines, "data/x.jsonl")
    error = caught.value
    assert (error.path, error.line, error.field) == ("data/x.jsonl", line, field)
    assert needle in str(error) and f"data/x.jsonl:{line}" in str(error)


def test_labeled_data_requires_labels() -> None:
    with pytest.raises(DatasetFormatError, match="missing"):
        parse_rows(_lines({k: v for k, v in PREF.items() if k != "label"}), "f.jsonl", require_label=True)


def test_ids_are_stable_and_independent_of_the_label() -> None:
    _, rows = parse_rows(_lines(BIN, BIN | {"choice": "5", "label": False}), "f")
    _, flipped = parse_rows(_lines(BIN | {"label": False}, BIN | {"choice": "5", "label": True}), "f")
    assign_ids(rows, "test", "f")
    assign_ids(flipped, "test", "f")
    assert [r.id for r in rows] == [r.id for r in flipped]
    assert len({r.id for r in rows}) == 2


def test_duplicate_rows_get_distinct_ids_and_duplicate_ids_are_refused() -> None:
    _, rows = parse_rows(_lines(BIN, BIN), "f")
    assign_ids(rows, "test", "f")
    assert rows[0].id != rows[1].id
    _, clash = parse_rows(_lines(BIN | {"id": "x"}, BIN | {"id": "x", "choice": "5"}), "f")
    with pytest.raises(DatasetFormatError, match="duplicate id"):
        assign_ids(clash, "test", "f")


def test_public_record_of_hidden_split_keeps_only_public_fields() -> None:
    _, rows = parse_rows(_lines(BIN | {"difficulty": 3, "subset": "s", "is_correct": True}), "f")
    hidden = public_record(rows[0], hide=True)
    assert set(hidden) == {"question", "choice", "consistency_id", "consistency_key", "answer"}
    assert public_record(rows[0], hide=False)["label"] is True
