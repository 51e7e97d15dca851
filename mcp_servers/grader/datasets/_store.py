"""The grader's label store: hidden labels of train_unlabel and test, one folder per dataset.

    <label_store>/<dataset>/meta.json         task type, sizes, source
    <label_store>/<dataset>/<split>.jsonl     {id, label: 0|1, subset?, difficulty?, group?} in public row order

Only the grader (and operator commands such as calibration) read this; it is never under the public tree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainer.data import HIDDEN_SPLITS, TaskType, iter_jsonl, sha256_file, write_jsonl


@dataclass(frozen=True)
class HiddenLabels:
    """Labels of one hidden split, aligned with the public file's row order."""

    dataset: str
    split: str
    task: TaskType
    ids: list[str]
    labels: list[int]
    subsets: list[str | None]
    groups: list[str | None] = field(default_factory=list)
    """Consistency group of each row (binary rows that share a question), used to split test by group."""

    def __len__(self) -> int:
        return len(self.ids)


CALIBRATION_FILE = "calibration.json"


def _digest(path: Path) -> str | None:
    return sha256_file(path) if path.is_file() else None


class LabelStore:
    """File-backed store of hidden labels rooted at `W2S_LABEL_STORE`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def datasets(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / "meta.json").is_file())

    def meta(self, dataset: str) -> dict[str, Any]:
        path = self.root / dataset / "meta.json"
        if not path.is_file():
            known = ", ".join(self.datasets()) or "none"
            raise KeyError(f"unknown dataset {dataset!r}; the label store has: {known}")
        return json.loads(path.read_text())

    def load(self, dataset: str, split: str) -> HiddenLabels:
        if split not in HIDDEN_SPLITS:
            raise ValueError(f"the label store holds only {', '.join(HIDDEN_SPLITS)}, not {split!r}")
        meta = self.meta(dataset)
        records = list(iter_jsonl(self.root / dataset / f"{split}.jsonl"))
        return HiddenLabels(
            dataset=dataset,
            split=split,
            task=TaskType(meta["task"]),
            ids=[r["id"] for r in records],
            labels=[int(r["label"]) for r in records],
            subsets=[r.get("subset") for r in records],
            groups=[None if r.get("group") is None else str(r["group"]) for r in records],
        )

    def write(self, dataset: str, task: TaskType, splits: dict[str, list[dict[str, Any]]], source: str) -> None:
        """Replace a dataset's labels; each split is a list of {id, label, subset?, difficulty?, group?}."""
        folder = self.root / dataset
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
        before = {split: _digest(folder / f"{split}.jsonl") for split in splits}
        for split, records in splits.items():
            write_jsonl(folder / f"{split}.jsonl", records)
            (folder / f"{split}.jsonl").chmod(0o600)
        if any(before[split] not in (None, _digest(folder / f"{split}.jsonl")) for split in splits):
            # Weak and ceiling accuracies were measured on other rows: PGR against them would be wrong.
            (folder / CALIBRATION_FILE).unlink(missing_ok=True)
        meta = {"dataset": dataset, "task": task.value, "source": source, "sizes": {s: len(r) for s, r in splits.items()}}
        (folder / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
