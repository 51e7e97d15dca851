"""Reading the public data tree: what ideas, the trainer and the compute servers are allowed to see."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from trainer._paths import paths
from trainer.data._format import SPLITS, DatasetFormatError, Row, TaskType, read_rows


@dataclass(frozen=True)
class PublicSplit:
    """One split of a dataset as a sandbox sees it (labels only on train_label)."""

    dataset: str
    split: str
    task: TaskType
    rows: list[Row]

    @property
    def ids(self) -> list[str]:
        return [str(row.id) for row in self.rows]

    def targets(self) -> list[int]:
        """0/1 labels; only train_label has them."""
        targets = [row.target() for row in self.rows]
        if any(t is None for t in targets):
            raise ValueError(f"{self.dataset}/{self.split} has no labels in the public tree")
        return [int(t) for t in targets if t is not None]

    def __len__(self) -> int:
        return len(self.rows)


def dataset_dir(dataset: str, data_dir: Path | None = None) -> Path:
    root = data_dir or paths().data_dir
    if not dataset or "/" in dataset or dataset.startswith("."):
        raise ValueError(f"invalid dataset name {dataset!r}")
    return root / dataset


def list_datasets(data_dir: Path | None = None) -> list[str]:
    root = data_dir or paths().data_dir
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if all((p / f"{s}.jsonl").is_file() for s in SPLITS))


def load_split(dataset: str, split: str, data_dir: Path | None = None) -> PublicSplit:
    """Load one public split; a missing dataset names the ones that exist and how to build them."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    path = dataset_dir(dataset, data_dir) / f"{split}.jsonl"
    if not path.is_file():
        known = ", ".join(list_datasets(data_dir)) or "none"
        raise FileNotFoundError(
            f"dataset {dataset!r} has no {split}.jsonl under {path.parent.parent} (available: {known}); "
            "build the offline testbeds with `w2s-admin data build` or import labeled data with `w2s-admin data prepare`"
        )
    task, rows = read_rows(path, require_label=(split == "train_label"))
    for number, row in enumerate(rows, start=1):
        if row.id is None:
            raise DatasetFormatError(path, number, "id", "public rows must carry an id (run `w2s-admin data prepare`)")
    return PublicSplit(dataset=dataset, split=split, task=task, rows=rows)
