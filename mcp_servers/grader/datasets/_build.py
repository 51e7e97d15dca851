"""Build a testbed end to end: labeled rows -> `labeled_data/<name>/` -> prepare -> manifests."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from mcp_servers.grader.datasets._manifest import build_manifest, write_manifests
from mcp_servers.grader.datasets._prepare import prepare_dataset
from mcp_servers.grader.datasets._store import LabelStore
from mcp_servers.grader.datasets.testbeds import get_testbed
from trainer import W2SPaths, paths
from trainer.data import jsonl_line, sha256_file, write_jsonl
from trainer.weak import PIN_FIELD


@dataclass(frozen=True)
class BuiltTestbed:
    name: str
    manifest: dict[str, Any]


def _up_to_date(name: str, splits: dict[str, list[dict[str, Any]]], where: W2SPaths) -> dict[str, Any] | None:
    """The existing manifest if the same rows are already built and the public files are intact, else None."""
    try:
        manifest = read_manifest(name, where)
    except FileNotFoundError:
        return None
    for split, rows in splits.items():
        info = manifest["splits"].get(split, {})
        public = where.data_dir / name / f"{split}.jsonl"
        expected = hashlib.sha256("".join(jsonl_line(r) for r in rows).encode()).hexdigest()
        if info.get("sha256", {}).get("labeled") != expected or not public.is_file() \
                or sha256_file(public) != info["sha256"].get("public"):
            return None
    return manifest


def build_testbed(name: str, size: str = "default", seed: int = 0, where: W2SPaths | None = None,
                  force: bool = False) -> BuiltTestbed:
    """Write the labeled copy, the public tree, the label store and both manifests of one testbed.

    Rebuilding the same rows is a no-op (unless `force`): readers of the public tree, such as running agents, never
    see it disappear and reappear, and the dataset's calibration stays valid.
    """
    where = where or paths()
    testbed = get_testbed(name)
    splits = testbed.build(size, seed, where.raw_dir)
    if not force and (current := _up_to_date(name, splits, where)) is not None:
        if PIN_FIELD not in current:  # built before weak sides were pinned: take the testbed's
            pin_weak(name, testbed.weak, where)
            current = read_manifest(name, where)
        return BuiltTestbed(name, current)
    try:  # a weak side a calibration pinned survives a rebuild (read before prepare rewrites the manifests)
        pin = read_manifest(name, where).get(PIN_FIELD, testbed.weak)
    except FileNotFoundError:
        pin = testbed.weak
    labeled = where.labeled_dir / name
    for split, rows in splits.items():
        write_jsonl(labeled / f"{split}.jsonl", rows)
    store = LabelStore(where.label_store_dir)
    prepare_dataset(labeled, where.data_dir, store, name=name)
    manifest = build_manifest(name, labeled, where.data_dir / name,
                              {"testbed": name, "size": size, "seed": seed, PIN_FIELD: pin})
    write_manifests(manifest, where.label_store_dir / name, where.data_dir / name)
    return BuiltTestbed(name, manifest)


def pin_weak(name: str, pin: dict[str, Any], where: W2SPaths | None = None) -> None:
    """Record in both manifests the weak side a calibration of `name` measured (weak TrainConfig fields that differ
    from the defaults; {} = the defaults), so `make_config` and the train server give every agent that weak
    supervisor."""
    where = where or paths()
    manifest = {**read_manifest(name, where), PIN_FIELD: pin}
    write_manifests(manifest, where.label_store_dir / name, where.data_dir / name)


def read_manifest(name: str, where: W2SPaths | None = None) -> dict[str, Any]:
    path = (where or paths()).label_store_dir / name / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(f"no manifest for {name!r} at {path}; build it with `w2s-admin data build {name}` "
                                f"(a testbed) or import it with `w2s-admin data prepare FOLDER`")
    return json.loads(path.read_text())
