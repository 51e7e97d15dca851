"""Dataset formats (the reference sandbox's) and the public data tree."""

from trainer.data._format import (
    HIDDEN_FIELDS,
    HIDDEN_SPLITS,
    SPLITS,
    BinaryRow,
    DatasetFormatError,
    PreferenceRow,
    Row,
    TaskType,
    assign_ids,
    iter_jsonl,
    parse_rows,
    public_record,
    read_rows,
    sha256_file,
    target_of,
    write_jsonl,
)
from trainer.data._public import PublicSplit, dataset_dir, list_datasets, load_split

__all__ = [
    "HIDDEN_FIELDS",
    "HIDDEN_SPLITS",
    "SPLITS",
    "BinaryRow",
    "DatasetFormatError",
    "PreferenceRow",
    "PublicSplit",
    "Row",
    "TaskType",
    "assign_ids",
    "dataset_dir",
    "iter_jsonl",
    "list_datasets",
    "load_split",
    "parse_rows",
    "public_record",
    "read_rows",
    "sha256_file",
    "target_of",
    "write_jsonl",
]
