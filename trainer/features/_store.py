"""Frozen features of the strong model, computed once and cached as public artifacts.

What is cached per row (public text only, never a label):
- encoders: the two mean-pooled, L2-normalised sides `a` (question, or prompt + first answer) and `b` (choice, or
  prompt + second answer), exactly what `EncoderClassifier.sides` gives the head;
- causal LMs: `a` = the final-norm hidden state at the last prompt token (`CausalLMClassifier.features`), plus the
  two answer tokens' LM-head rows (`init_w`, `init_b`) so a head can start as the zero-shot scorer without loading
  the model.

Layout (one folder per model and max_length; one file per dataset split, or per set of rows outside any split):

    <artifacts_dir>/features/<model slug>-L<max_length>/
        <dataset>.<split>.<sha256 of the split file, 16 hex>.v<FEATURE_VERSION>.npz
        rows.<hash of the rows' inputs, 16 hex>.v<FEATURE_VERSION>.npz
      keys [N, 16] uint8   blake2b of the row's text fields (what lookups match on, so any row with the same text,
                           in any split, reuses the vector; no tokenizer runs for a cached row), a [N, da] float32,
                           b [N, db] float32 (db may be 0), kind (encoder | causal_lm)

Sandboxes see the public artifacts read-only; there the cache is written to `$W2S_FEATURE_CACHE`, else
`$HOME/.cache/w2s-lab/features` (else the temp dir), and read from all. Files are loaded with `allow_pickle=False`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trainer._paths import paths
from trainer.data import PreferenceRow, Row, dataset_dir, load_split, sha256_file

FEATURE_VERSION = 2
"""Part of every file name: bump when what a row's vector means changes (pooling, templates, truncation)."""


@dataclass
class RowFeatures:
    """Frozen features of some rows, in the rows' order."""

    a: np.ndarray
    b: np.ndarray
    """[N, 0] for causal LMs."""
    kind: str
    """`encoder` or `causal_lm`."""
    task: str
    init_w: np.ndarray | None = None
    """Causal LMs: [2, hidden] LM-head rows of the two answer tokens (the zero-shot scorer)."""
    init_b: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.a)


def model_slug(model: str, max_length: int) -> str:
    """A folder name for (model, max_length): readable, and unique even for paths that sanitise alike."""
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "_", model).strip("._")[-48:] or "model"
    digest = hashlib.sha256(model.encode()).hexdigest()[:8]
    return f"{readable}-{digest}-L{max_length}"


def cache_roots() -> list[Path]:
    """Where features are read from, first the public artifact, then the writable fallbacks."""
    roots = [paths().artifacts_dir / "features"]
    env = os.environ.get("W2S_FEATURE_CACHE")
    if env:
        roots.append(Path(env).expanduser())
    roots.append(Path.home() / ".cache" / "w2s-lab" / "features")
    roots.append(Path(tempfile.gettempdir()) / "w2s-lab-features")  # a sandbox whose HOME is read-only
    seen: list[Path] = []
    for root in roots:
        if root not in seen:
            seen.append(root)
    return seen


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK | os.X_OK)


def write_root() -> Path:
    """The first cache root this process may write (the public artifacts dir on the operator side)."""
    for root in cache_roots():
        if _writable(root):
            return root
    raise PermissionError(f"no writable feature cache among {', '.join(map(str, cache_roots()))}; "
                          "set W2S_FEATURE_CACHE to a writable folder")


def row_keys(rows: Sequence[Row]) -> np.ndarray:
    """[N, 16] uint8: a digest of each row's text fields. Within one (model, max_length) folder the model's input is
    a function of these (templates and truncation are versioned by FEATURE_VERSION), so the key stands for it."""
    out = np.zeros((len(rows), 16), dtype=np.uint8)
    for i, row in enumerate(rows):
        fields = (["p", row.prompt, row.first, row.second] if isinstance(row, PreferenceRow)
                  else ["b", row.question, row.choice])  # type: ignore[union-attr]
        text = json.dumps(fields, separators=(",", ":"), ensure_ascii=False)
        out[i] = np.frombuffer(hashlib.blake2b(text.encode(), digest_size=16).digest(), dtype=np.uint8)
    return out


def save_npz(path: Path, **arrays: np.ndarray) -> Path:
    """Atomic write (another process may be reading or writing the same file); world-readable for sandboxes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


class FeatureStore:
    """Features of one (model, max_length): lookups by row input across every cached file, extraction of the rest."""

    def __init__(self, model: str, max_length: int = 256, progress: bool = True) -> None:
        self.model, self.max_length, self.progress = model, max_length, progress
        self.slug = model_slug(model, max_length)
        self._extractor: Any = None
        self._index: dict[bytes, tuple[int, int]] | None = None
        self._arrays: list[dict[str, np.ndarray]] = []

    @property
    def extractor(self) -> Any:
        if self._extractor is None:
            from trainer.features._extract import Extractor

            self._extractor = Extractor(self.model, self.max_length)
        return self._extractor

    def folders(self) -> list[Path]:
        return [root / self.slug for root in cache_roots()]

    def _load_index(self) -> dict[bytes, tuple[int, int]]:
        if self._index is None:
            self._index, self._arrays = {}, []
            for folder in self.folders():
                for path in sorted(folder.glob(f"*.v{FEATURE_VERSION}.npz")) if folder.is_dir() else []:
                    self._add(load_npz(path))
        return self._index

    def _add(self, arrays: dict[str, np.ndarray]) -> None:
        assert self._index is not None
        n = len(self._arrays)
        self._arrays.append(arrays)
        for i, key in enumerate(arrays["keys"]):
            self._index.setdefault(key.tobytes(), (n, i))

    def split_file(self, dataset: str, split: str, data_dir: Path | None = None) -> str:
        digest = sha256_file(dataset_dir(dataset, data_dir) / f"{split}.jsonl")[:16]
        return f"{dataset}.{split}.{digest}.v{FEATURE_VERSION}.npz"

    def cached_split(self, dataset: str, split: str, data_dir: Path | None = None) -> Path | None:
        name = self.split_file(dataset, split, data_dir)
        return next((f / name for f in self.folders() if (f / name).is_file()), None)

    def ensure_split(self, dataset: str, split: str, data_dir: Path | None = None) -> Path:
        """The split's feature file, extracting it (with a progress bar) if no cache root has it yet."""
        found = self.cached_split(dataset, split, data_dir)
        if found is not None:
            return found
        public = load_split(dataset, split, data_dir)
        arrays = self._extract(public.rows, f"features {self.model} {dataset}/{split}")
        path = save_npz(write_root() / self.slug / self.split_file(dataset, split, data_dir), **arrays)
        if self._index is not None:
            self._add(arrays)
        return path

    def _extract(self, rows: Sequence[Row], desc: str) -> dict[str, np.ndarray]:
        inputs = self.extractor.inputs(rows)
        a, b, extra = self.extractor.compute(inputs, desc=desc, progress=self.progress, task=self.extractor.task_of(rows))
        return {"keys": row_keys(rows), "a": a, "b": b, "kind": np.array(self.extractor.kind), **extra}

    def features(self, rows: Sequence[Row]) -> RowFeatures:
        """Features of `rows` in order; rows no cache file holds are extracted once and cached as a rows file."""
        if not rows:
            raise ValueError("no rows to featurize")
        keys = row_keys(rows)
        index = self._load_index()
        missing = [i for i, k in enumerate(keys) if k.tobytes() not in index]
        if missing:
            arrays = self._extract([rows[i] for i in missing], f"features {self.model} ({len(missing)} rows)")
            digest = hashlib.sha256(arrays["keys"].tobytes()).hexdigest()[:16]
            save_npz(write_root() / self.slug / f"rows.{digest}.v{FEATURE_VERSION}.npz", **arrays)
            self._add(arrays)
        where = [index[k.tobytes()] for k in keys]
        first = self._arrays[where[0][0]]
        a = np.stack([self._arrays[f]["a"][i] for f, i in where]).astype(np.float32)
        b = np.stack([self._arrays[f]["b"][i] for f, i in where]).astype(np.float32)
        task = "preference" if isinstance(rows[0], PreferenceRow) else "binary"
        return RowFeatures(a=a, b=b, kind=str(first["kind"]), task=task,
                           init_w=first.get("init_w"), init_b=first.get("init_b"))


_STORES: dict[tuple[str, int, tuple[Path, ...]], FeatureStore] = {}


def feature_store(model: str, max_length: int = 256, progress: bool = True) -> FeatureStore:
    """One store per (model, max_length) per process, so an idea's many head fits share the loaded index."""
    key = (model, max_length, tuple(cache_roots()))  # a repointed W2S_HOME gets its own store
    store = _STORES.get(key)
    if store is None:
        store = _STORES[key] = FeatureStore(model, max_length, progress)
    store.progress = progress
    return store


def cache_dataset_features(model: str, dataset: str, splits: Sequence[str] = ("train_label", "train_unlabel", "test"),
                           max_length: int = 256, data_dir: Path | None = None, progress: bool = True) -> list[Path]:
    """Extract (or find) the features of a dataset's public splits; what `w2s features` runs."""
    store = feature_store(model, max_length, progress)
    return [store.ensure_split(dataset, split, data_dir) for split in splits]


class TextCache:
    """Unit-norm text embeddings of one (model, max_length), cached by text (what elicitation ideas and probes
    embed: row texts without their instruction, verbalized answers). Same roots and format as the row features."""

    def __init__(self, model: str, max_length: int = 256) -> None:
        self.slug = model_slug(model, max_length)
        self._index: dict[bytes, np.ndarray] | None = None

    @staticmethod
    def key(text: str) -> bytes:
        return hashlib.blake2b(text.encode(), digest_size=16).digest()

    def _load(self) -> dict[bytes, np.ndarray]:
        if self._index is None:
            self._index = {}
            for root in cache_roots():
                folder = root / self.slug
                for path in sorted(folder.glob(f"texts.*.v{FEATURE_VERSION}.npz")) if folder.is_dir() else []:
                    arrays = load_npz(path)
                    for key, vec in zip(arrays["keys"], arrays["a"], strict=True):
                        self._index.setdefault(key.tobytes(), vec)
        return self._index

    def embed(self, texts: Sequence[str], compute: Any) -> np.ndarray:
        """[N, d] for `texts`; `compute(missing_texts) -> [M, d]` runs only on texts no cache file holds."""
        index = self._load()
        missing = sorted({t for t in texts if self.key(t) not in index})
        if missing:
            vecs = np.asarray(compute(missing), dtype=np.float32)
            keys = np.stack([np.frombuffer(self.key(t), dtype=np.uint8) for t in missing])
            digest = hashlib.sha256(keys.tobytes()).hexdigest()[:16]
            try:
                save_npz(write_root() / self.slug / f"texts.{digest}.v{FEATURE_VERSION}.npz", keys=keys, a=vecs)
            except PermissionError:
                pass  # nowhere to write: still correct, only not cached
            index.update({self.key(t): v for t, v in zip(missing, vecs, strict=True)})
        return np.stack([index[self.key(t)] for t in texts]).astype(np.float32)


_TEXTS: dict[tuple[str, int, tuple[Path, ...]], TextCache] = {}


def text_cache(model: str, max_length: int = 256) -> TextCache:
    key = (model, max_length, tuple(cache_roots()))
    cache = _TEXTS.get(key)
    if cache is None:
        cache = _TEXTS[key] = TextCache(model, max_length)
    return cache
