"""Weak-label artifacts: the weak model trained on train_label, its soft labels for train_unlabel and test.

Built once per (dataset files, weak TrainConfig) and cached under `artifacts_dir/<artifact id>/`, so every idea and
seed that asks for the same weak supervisor reuses it. The id is a hash of the config and of the dataset files'
contents, so a rebuilt dataset or a changed hyperparameter gets a new artifact instead of stale labels.

    <artifacts_dir>/weak-<12 hex>/
      config.json                     {"dataset", "train": TrainConfig, "files": {split: sha256}}
      train_unlabel.jsonl, test.jsonl {"id", "p"}: P(class 1) from the weak model, public row order
      weak.npz                        ids_<split>, p_<split> (the same numbers, for numpy users)
      metrics.jsonl                   the weak training run's metrics
      info.json                       wall time, sizes
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trainer._paths import paths
from trainer.data import SPLITS, PublicSplit, dataset_dir, iter_jsonl, load_split, sha256_file, write_jsonl
from trainer.training import ConfigError, TrainConfig, apply_overrides

LABELED_SPLITS = ("train_unlabel", "test")
ARTIFACT_VERSION = 2
"""Part of every artifact id: bump it when a change to the classifier or the training loop changes what the same
config produces, so caches built by older code are not reused."""


def default_weak_train(dataset: str | None = None, data_dir: Path | None = None) -> TrainConfig:
    """The offline weak supervisor: a linear head on MiniLM-L6's frozen features (`tier="head"`), trained on all of
    train_label. A weaker weak model than MiniLM fully fine-tuned (the `easy-cpu` preset, whose weak side leaves
    the LoRA student too little gap to recover: PGR 0.90); `--set weak.tier=full` restores that weak side, and
    `weak.max_rows` weakens it further on datasets where the gap is small (docs/results.md).

    With a dataset, the weak side its calibration pinned (`pinned_weak`) is applied on top, so everyone training
    against that calibration gets the weak supervisor it measured."""
    base = TrainConfig(model="minilm-l6", tier="head", lora=False, epochs=2.0, lr=5e-5, head_lr=1e-4, batch_size=16,
                       max_length=256)
    pin = pinned_weak(dataset, data_dir) if dataset else {}
    return apply_overrides(base, pin, path=f"{dataset} manifest: weak") if pin else base


PIN_FIELD = "weak"
"""The public manifest's field holding the weak side a dataset's calibration was measured with."""


UNPINNED_FIELDS = ("seed", "progress")
"""Weak fields a pin never holds: the seed is each run's, the progress bar each process's."""


def weak_pin(train: TrainConfig) -> dict[str, Any]:
    """What a pin records for the weak side `train`: its fields that differ from the defaults (JSON data)."""
    default, mine = default_weak_train().to_dict(), train.to_dict()
    return {k: v for k, v in mine.items() if v != default.get(k) and k not in UNPINNED_FIELDS}


def pinned_weak(dataset: str, data_dir: Path | None = None) -> dict[str, Any]:
    """Weak TrainConfig fields pinned for `dataset` by `w2s-admin results calibrate` (the `weak` object of its public
    manifest: e.g. {"max_rows": 250} on questions), {} when none is pinned or the dataset has no manifest."""
    try:
        text = (dataset_dir(dataset, data_dir) / "manifest.json").read_text()
    except (ValueError, OSError):  # no such dataset or no manifest: nothing pinned, the dataset's own error comes later
        return {}
    try:
        manifest = json.loads(text)
    except ValueError as exc:  # a half-edited manifest must not silently drop the pin the grader measured with
        raise ConfigError(f"{dataset} manifest", f"is not valid JSON ({exc}); rebuild it with `w2s-admin data "
                                                 f"build` or `w2s-admin results calibrate`") from None
    pin = manifest.get(PIN_FIELD, {}) if isinstance(manifest, dict) else {}
    if not isinstance(pin, dict):
        raise ConfigError(f"{dataset} manifest: {PIN_FIELD}", f"must be an object of weak TrainConfig fields, got "
                                                           f"{type(pin).__name__} (rewrite it with `w2s-admin results calibrate`)")
    return pin


@dataclass
class WeakConfig:
    dataset: str = "sentiment"
    """Public dataset name (a folder under `trainer.paths().data_dir`)."""
    train: TrainConfig = field(default_factory=default_weak_train)
    """How the weak model is trained on train_label (its seed is the artifact's seed)."""


@dataclass(frozen=True)
class WeakArtifact:
    id: str
    """`weak-<12 hex>`: what the train server and ideas pass around."""
    path: Path
    config: dict[str, Any]

    def probs(self, split: str) -> tuple[list[str], np.ndarray]:
        """(ids, P(class 1)) for train_unlabel or test, in the public file's order."""
        if split not in LABELED_SPLITS:
            raise ValueError(f"weak artifacts hold {', '.join(LABELED_SPLITS)}, not {split!r}")
        records = list(iter_jsonl(self.path / f"{split}.jsonl"))
        return [r["id"] for r in records], np.array([r["p"] for r in records], dtype=np.float32)

    def aligned(self, split: PublicSplit) -> np.ndarray:
        """Weak P(class 1) for the rows of `split`, matched by id (refuses a mismatch rather than misalign)."""
        ids, p = self.probs(split.split)
        lookup = dict(zip(ids, p.tolist(), strict=True))
        missing = [i for i in split.ids if i not in lookup]
        if missing:
            raise KeyError(f"artifact {self.id} has no weak label for {len(missing)} rows, e.g. {missing[0]}")
        return np.array([lookup[i] for i in split.ids], dtype=np.float32)


def _file_hashes(dataset: str, data_dir: Path | None) -> dict[str, str]:
    folder = dataset_dir(dataset, data_dir)
    return {s: sha256_file(folder / f"{s}.jsonl") for s in SPLITS}


def artifact_id(config: WeakConfig, data_dir: Path | None = None) -> str:
    train = config.train.to_dict()
    for volatile in ("progress", "log_every", "eval_batch_size", "device"):
        train.pop(volatile, None)  # do not change the labels, so must not change the id
    for added, default in (("max_rows", None), ("tier", None), ("head_kind", "linear"), ("head_hidden", 256),
                           ("fast_epochs", 10.0), ("fast_lr", 1e-3)):
        if train.get(added) == default:
            train.pop(added, None)  # fields added later: at their defaults, ids of existing artifacts stay valid
    key = {"dataset": config.dataset, "train": train, "files": _file_hashes(config.dataset, data_dir),
           "format": ARTIFACT_VERSION}
    return "weak-" + hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]


def load_weak_artifact(artifact: str, artifacts_dir: Path | None = None) -> WeakArtifact:
    """An existing artifact by id (what the train server receives from a client)."""
    if not artifact.startswith("weak-") or "/" in artifact or ".." in artifact:
        raise ValueError(f"not a weak artifact id: {artifact!r} (expected weak-<12 hex>)")
    folder = (artifacts_dir or paths().artifacts_dir) / artifact
    if not (folder / "info.json").is_file():
        raise FileNotFoundError(f"weak artifact {artifact} does not exist under {folder.parent}; build it first")
    return WeakArtifact(artifact, folder, json.loads((folder / "config.json").read_text()))


def list_weak_artifacts(artifacts_dir: Path | None = None) -> list[WeakArtifact]:
    root = artifacts_dir or paths().artifacts_dir
    if not root.is_dir():
        return []
    return [load_weak_artifact(p.name, root) for p in sorted(root.glob("weak-*")) if (p / "info.json").is_file()]


def build_weak_artifact(
    config: WeakConfig, data_dir: Path | None = None, artifacts_dir: Path | None = None, rebuild: bool = False
) -> WeakArtifact:
    """Reuse the cached artifact for this config, or train the weak model and write one (atomically)."""
    from trainer.inference import predict_proba
    from trainer.training import train

    root = artifacts_dir or paths().artifacts_dir
    aid = artifact_id(config, data_dir)
    if not rebuild and (root / aid / "info.json").is_file():
        return load_weak_artifact(aid, root)
    root.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    labeled = load_split(config.dataset, "train_label", data_dir)
    if config.train.resolved_tier == "head":  # cache the weak model's features of whole splits, named by split
        from trainer.features import feature_store

        store = feature_store(config.train.model, config.train.max_length, config.train.progress)
        for split in SPLITS:
            store.ensure_split(config.dataset, split, data_dir)
    with tempfile.TemporaryDirectory(dir=root, prefix=f".{aid}-") as tmp:
        staged = Path(tmp)
        result = train(config.train, labeled.rows, labeled.targets(), staged, run_name=f"weak {config.dataset}")
        npz: dict[str, np.ndarray] = {}
        sizes = {}
        for split in LABELED_SPLITS:
            public = load_split(config.dataset, split, data_dir)
            p = predict_proba(result.classifier, public.rows, config.train.eval_batch_size)
            write_jsonl(staged / f"{split}.jsonl", ({"id": i, "p": float(v)} for i, v in zip(public.ids, p, strict=True)))
            npz[f"ids_{split}"], npz[f"p_{split}"] = np.array(public.ids), p
            sizes[split] = len(public)
        np.savez(staged / "weak.npz", **npz)
        shutil.rmtree(staged / "checkpoint", ignore_errors=True)  # labels are the artifact; weights are not kept
        cfg = {"dataset": config.dataset, "train": config.train.to_dict(), "files": _file_hashes(config.dataset, data_dir)}
        (staged / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
        used = min(len(labeled), config.train.max_rows or len(labeled))
        info = {"id": aid, "wall_s": time.perf_counter() - started, "sizes": sizes, "train_rows": used}
        (staged / "info.json").write_text(json.dumps(info, indent=2) + "\n")
        target = root / aid
        staged.chmod(0o755)  # mkdtemp's 0700 would hide a shared artifact from the sandbox user (w2s-agent)
        if rebuild and target.exists():
            shutil.rmtree(target)
        try:
            staged.rename(target)
        except OSError:
            pass  # another process finished the same artifact first: identical content, keep theirs
        Path(tmp).mkdir(exist_ok=True)  # TemporaryDirectory cleanup expects it
    return load_weak_artifact(aid, root)
