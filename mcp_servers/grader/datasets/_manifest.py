"""Dataset manifests: row counts, class balance per split and subset, and the sha256 of every file.

The full manifest (with hidden splits' balance) stays in the label store; the public tree gets one with counts and
hashes of the public files only.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from mcp_servers.core import replace_at
from trainer.data import SPLITS, read_rows, sha256_file


def _balance(rows: list[Any]) -> dict[str, dict[str, float | int]]:
    by_subset: dict[str, Counter[int]] = {}
    for row in rows:
        for key in ("all", row.subset or "none"):
            by_subset.setdefault(key, Counter())[int(row.target())] += 1
    return {
        subset: {"rows": sum(counts.values()), "positive": counts[1], "positive_rate": round(counts[1] / sum(counts.values()), 4)}
        for subset, counts in sorted(by_subset.items())
    }


def build_manifest(name: str, labeled_dir: Path, data_dir: Path, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Describe one dataset from its labeled folder and its public copy."""
    splits: dict[str, Any] = {}
    for split in SPLITS:
        labeled = labeled_dir / f"{split}.jsonl"
        public = data_dir / f"{split}.jsonl"
        task, rows = read_rows(labeled, require_label=True)
        splits[split] = {
            "rows": len(rows),
            "balance": _balance(rows),
            "sha256": {"labeled": sha256_file(labeled), "public": sha256_file(public)},
        }
    return {"dataset": name, "task": task.value, **(extra or {}), "splits": splits}


def public_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """What a sandbox may see: counts and public hashes; class balance only for train_label."""
    splits = {
        split: {
            "rows": info["rows"],
            "sha256": info["sha256"]["public"],
            **({"balance": info["balance"]} if split == "train_label" else {}),
        }
        for split, info in manifest["splits"].items()
    }
    return {key: value for key, value in manifest.items() if key != "splits"} | {"splits": splits}


def write_manifests(manifest: dict[str, Any], label_store_dir: Path, data_dir: Path) -> None:
    """Both manifests, each replaced whole: a trainer reading the public one (its pinned weak side) mid-write sees the
    old file or the new one."""
    for folder, content in ((label_store_dir, manifest), (data_dir, public_manifest(manifest))):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            replace_at(fd, "manifest.json", [(json.dumps(content, indent=2, sort_keys=True) + "\n").encode()])
        finally:
            os.close(fd)


