"""`prepare`: turn `labeled_data/<dataset>/` (the reference's format) into the public tree and the label store.

Everything is validated before anything is written, so a malformed file leaves both trees as they were.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mcp_servers.grader.datasets._manifest import build_manifest, write_manifests
from mcp_servers.grader.datasets._store import LabelStore
from trainer.data import (
    HIDDEN_FIELDS,
    HIDDEN_SPLITS,
    SPLITS,
    DatasetFormatError,
    Row,
    TaskType,
    assign_ids,
    public_record,
    read_rows,
    write_jsonl,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedDataset:
    name: str
    task: TaskType
    sizes: dict[str, int]
    dropped_fields: dict[str, list[str]]
    """Unknown extra fields removed from each hidden split's public copy."""


def _validate(folder: Path) -> tuple[TaskType, dict[str, list[Row]]]:
    task: TaskType | None = None
    splits: dict[str, list[Row]] = {}
    for split in SPLITS:
        path = folder / f"{split}.jsonl"
        task, rows = read_rows(path, task, require_label=True)
        assign_ids(rows, split, path)
        splits[split] = rows
    assert task is not None
    return task, splits


def _group_of(row: Row) -> str | None:
    value = getattr(row, "consistency_id", None)
    return None if value is None else str(value)


def prepare_dataset(folder: Path, data_dir: Path, store: LabelStore, name: str | None = None) -> PreparedDataset:
    """Validate one labeled dataset folder, then write its public copy and its hidden labels."""
    name = name or folder.name
    if not folder.is_dir():
        raise DatasetFormatError(folder, None, None, "labeled dataset folder not found")
    task, splits = _validate(folder)
    dropped: dict[str, list[str]] = {}
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=_ensure(data_dir)))
    staging.chmod(0o755)  # mkdtemp makes it 0700; the public tree is read by the unprivileged sandbox user
    try:
        for split, rows in splits.items():
            hide = split in HIDDEN_SPLITS
            records = [public_record(row, hide) for row in rows]
            if hide:
                extras = {k for row in rows for k in row.model_dump(exclude_none=True)} - HIDDEN_FIELDS
                dropped[split] = sorted(extras - {k for r in records for k in r})
            write_jsonl(staging / f"{split}.jsonl", records)
        hidden = {
            split: [
                {"id": row.id, "label": row.target(), "subset": row.subset, "difficulty": row.difficulty,
                 "group": _group_of(row)}
                for row in splits[split]
            ]
            for split in HIDDEN_SPLITS
        }
        store.write(name, task, hidden, source=str(folder))
        target = data_dir / name
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    # Prepared datasets get the same manifests as built testbeds (`w2s-admin data manifest NAME` reads them).
    write_manifests(build_manifest(name, folder, target, {"prepared_from": folder.name}), store.root / name, target)
    for split, fields in dropped.items():
        if fields:
            log.warning("%s/%s: dropped unknown fields from the public copy: %s", name, split, ", ".join(fields))
    return PreparedDataset(name, task, {s: len(r) for s, r in splits.items()}, dropped)


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def find_labeled_datasets(root: Path) -> list[Path]:
    """Dataset folders under a `labeled_data/` root (or the root itself if it is one dataset)."""
    if all((root / f"{s}.jsonl").is_file() for s in SPLITS):
        return [root]
    found = sorted(p for p in root.iterdir() if p.is_dir() and (p / "train_label.jsonl").is_file()) if root.is_dir() else []
    if not found:
        raise DatasetFormatError(root, None, None, "no dataset folders with train_label/train_unlabel/test.jsonl")
    return found


def prepare(root: Path, data_dir: Path, store: LabelStore) -> list[PreparedDataset]:
    """Prepare every dataset under `root`; all are validated before the first is written."""
    folders = find_labeled_datasets(root)
    for folder in folders:
        _validate(folder)
    return [prepare_dataset(folder, data_dir, store) for folder in folders]
