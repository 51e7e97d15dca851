"""Recognising copies of the hidden labels in any text, whatever its shape, from the operator's salted hashes.

A copy counts when its labels agree with the hidden ones (or their inverse) far beyond what a constant guess
gets: >= 95% of the matched items and at least half of what the majority class leaves; weak labels (~75%) and
"all positive" never qualify. The shapes: rows keyed by id or by content (jsonl/json/csv/tsv, any suffix), an
`{id: label}` map or rows nested anywhere in JSON, an id followed by a label anywhere in text (.py, .md, logs,
tables), a bare label vector in the file order of a hidden split (a JSON list, a run of label words or digits,
a 0/1 bitstring), base64 of any of these (the caller decodes and recurses).
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sandbox.fingerprint import MIN_TEXT, content_key, digest, normalize

POSITIVE = {"true", "1", "yes", "pos", "positive", "fresh", "b"}
NEGATIVE = {"false", "0", "no", "neg", "negative", "rotten", "a"}
MIN_VECTOR = 32
"""Shorter label runs match a split by chance too often to mean anything."""
TOKEN = re.compile(r"[^\s\"'`,;:|=(){}\[\]<>]+")
BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4}){12,}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?|"
                    r"(?:[A-Za-z0-9_\-]{4}){12,}(?:[A-Za-z0-9_\-]{2,3}={0,2})?")
WINDOW = 3
"""How many tokens after an id may hold its label (`"t1": {"label": 1}` is three)."""


def canonical(value: Any) -> int | None:
    """A cell as a 0/1 label, whatever the encoding (bool, 0/1, A/B, fresh/rotten, a signed rating)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return None if isinstance(value, int) and value not in (0, 1) else int(value > 0)
    if isinstance(value, str) and len(value) <= 12:
        word = value.strip().lower()
        if word in POSITIVE:
            return 1
        if word in NEGATIVE:
            return 0
        try:
            return int(float(word) > 0)
        except ValueError:
            return None
    return None


@dataclass
class Fingerprint:
    salt: str
    ids: set[str]
    pairs: set[str]
    contents: set[str]
    content_pairs: set[str]
    segments: set[str]
    positions: set[str] = field(default_factory=set)
    vectors: dict[str, int] = field(default_factory=dict)
    """split key ("dataset/split") -> rows, for bare vectors in the public file order"""
    _ids: dict[str, int | None] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, data: dict[str, Any]) -> Fingerprint:
        return cls(data["salt"], *(set(data.get(k, [])) for k in ("ids", "pairs", "contents", "content_pairs",
                                                                     "segments", "positions")),
                   vectors={str(k): int(v) for k, v in data.get("vectors", {}).items()})

    def truth_id(self, row_id: str) -> int | None:
        """The hidden label of a hidden row id; None when it is not one (cached: text has many tokens)."""
        if row_id not in self._ids:
            if len(self._ids) > 1_000_000:
                self._ids.clear()
            known = digest(self.salt, "id", row_id) in self.ids
            self._ids[row_id] = self._truth(known, lambda v: digest(self.salt, "id", row_id, v) in self.pairs)
        return self._ids[row_id]

    def truth_content(self, key: str) -> int | None:
        known = digest(self.salt, "content", key) in self.contents
        return self._truth(known, lambda v: digest(self.salt, "content", key, v) in self.content_pairs)

    def truth_position(self, split: str, index: int) -> int | None:
        return self._truth(True, lambda v: digest(self.salt, "pos", split, str(index), v) in self.positions)

    @staticmethod
    def _truth(known: bool, has: Any) -> int | None:
        if not known:
            return None
        return 1 if has("1") else 0 if has("0") else None


@dataclass
class Tally:
    """Items matched to hidden rows: their true label and the label values the copy gives them."""

    n: int = 0
    ones: int = 0
    hits: int = 0
    inverse: int = 0

    def add(self, truth: int, labels: set[int]) -> None:
        self.n, self.ones = self.n + 1, self.ones + truth
        self.hits += truth in labels
        self.inverse += (1 - truth) in labels

    def leaks(self, min_n: int) -> bool:
        if self.n < min_n:
            return False
        base = max(self.ones, self.n - self.ones) / self.n
        need = max(0.95, base + (1 - base) / 2)
        return max(self.hits, self.inverse) >= need * self.n


def label_findings(text: str, name: str, fp: Fingerprint, min_rows: int) -> list[tuple[str, str]]:
    """(kind, detail) of every way `text` carries the hidden labels; the details never quote one."""
    found: list[tuple[str, str]] = []
    by_id, by_content, segs = Tally(), Tally(), 0
    for row in _rows(name, text):
        cells = list(row.values()) if isinstance(row, dict) else list(row)
        labels = {v for c in cells if (v := canonical(c)) is not None}
        if not labels:
            continue
        truth = next((t for c in cells if isinstance(c, (str, int)) and not isinstance(c, bool)
                      and (t := fp.truth_id(str(c))) is not None), None)
        if truth is not None:
            by_id.add(truth, labels)
        key = content_key(row) if isinstance(row, dict) else None
        if key is not None and (truth := fp.truth_content(key)) is not None:
            by_content.add(truth, labels)
        segs += any(isinstance(c, str) and len(c) >= MIN_TEXT and digest(fp.salt, "seg", normalize(c)) in fp.segments
                    for c in cells)
    for tally, how in ((by_id, "rows matched by id"), (by_content, "rows matched by content")):
        if tally.leaks(min_rows):
            detail = f"{tally.n} {how}; their labels agree with the hidden labels (or their inverse)"
            found.append(("hidden_labels", detail))
    if segs >= min_rows:
        found.append(("raw_text_labels", f"{segs} rows pair hidden raw snippets with label values"))
    maps, vectors = _json_evidence(text, fp)
    for how, tally in maps.items():
        if tally.leaks(min_rows):
            found.append(("hidden_labels", f"{tally.n} ids in JSON ({how}) carry the hidden labels"))
    tokens = _token_pairs(text, fp)
    if tokens.leaks(min_rows):
        found.append(("hidden_labels", f"{tokens.n} ids in the text are followed by their hidden labels"))
    for split, n in _vector_hits(vectors + list(_text_vectors(text)), fp):
        detail = f"a vector of {n} labels in the file order of {split} agrees with the hidden labels (or inverse)"
        found.append(("hidden_labels", detail))
    return found


def base64_payloads(text: str, limit: int) -> Iterator[bytes]:
    """Decoded base64 blobs (standard or URL-safe; wrapped lines too) worth a second look, at most `limit` bytes."""
    squeezed = re.sub(r"\s+", "", text)
    candidates = [squeezed] if len(squeezed) >= 48 and BASE64.fullmatch(squeezed) else []
    candidates += [m.group(0) for _, m in zip(range(64), BASE64.finditer(text), strict=False)]
    total = 0
    for blob in candidates:
        try:
            data = (base64.urlsafe_b64decode if re.search(r"[-_]", blob) else base64.b64decode)(
                blob + "=" * (-len(blob) % 4))
        except (binascii.Error, ValueError):
            continue
        total += len(data)
        if total > limit:
            return
        yield data


def _rows(name: str, text: str) -> Iterator[dict[str, Any] | list[Any]]:
    """Tabular rows by content, whatever the suffix: JSON lines, a JSON list (or the first list in an object),
    tab- or comma-separated lines."""
    stripped = text.lstrip()
    lines = text.splitlines()
    if stripped[:1] in "[{":
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            data = next((v for v in data.values() if isinstance(v, list)), [])
        if isinstance(data, list):
            yield from (r for r in data if isinstance(r, (dict, list)))
            return
        for line in lines:
            if line.lstrip()[:1] in ("{", "["):
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                if isinstance(row, (dict, list)):
                    yield row
        return
    first = text[:4096]
    head = lines[:5]
    if "\t" in first:
        delimiter = "\t"
    elif name.lower().endswith(".csv") or (len(head) > 1 and head[0].count(",") >= 1
                                           and len({h.count(",") for h in head}) == 1):
        delimiter = ","
    else:
        return
    try:
        yield from csv.reader(io.StringIO(text), delimiter=delimiter)
    except csv.Error:
        return


def _json_docs(text: str) -> Iterator[Any]:
    stripped = text.lstrip()
    if stripped[:1] not in ("{", "["):
        return
    try:
        yield json.loads(text)
        return
    except ValueError:
        pass
    for line in text.splitlines():
        if line.lstrip()[:1] in ("{", "["):
            try:
                yield json.loads(line)
            except ValueError:
                continue


def _json_evidence(text: str, fp: Fingerprint) -> tuple[dict[str, Tally], list[list[int | None]]]:
    """`{id: label}` maps and rows nested anywhere (an id and its label inside one small object), plus lists of
    scalars (candidate vectors)."""
    maps = {"id -> label map": Tally(), "nested rows": Tally()}
    seen: set[tuple[str, str]] = set()
    vectors: list[list[int | None]] = []
    stack = list(_json_docs(text))
    steps = 0
    while stack and steps < 2_000_000:
        obj, steps = stack.pop(), steps + 1
        if isinstance(obj, dict):
            for key, value in obj.items():
                truth = fp.truth_id(str(key)) if ("map", key) not in seen else None
                if truth is not None and (labels := _labels_of(value)):
                    seen.add(("map", key))
                    maps["id -> label map"].add(truth, labels)
            leaves = _leaves(obj)
            ids = {str(x) for x in leaves if isinstance(x, (str, int)) and not isinstance(x, bool)
                   and fp.truth_id(str(x)) is not None}
            if len(ids) == 1 and ("row", row_id := next(iter(ids))) not in seen:
                labels = {v for x in leaves if str(x) != row_id and (v := canonical(x)) is not None}
                if labels:
                    seen.add(("row", row_id))
                    maps["nested rows"].add(fp.truth_id(row_id) or 0, labels)
            stack.extend(v for v in obj.values() if isinstance(v, (dict, list)))
        elif isinstance(obj, list):
            if len(obj) >= MIN_VECTOR and not any(isinstance(x, (dict, list)) for x in obj):
                vectors.append([canonical(x) for x in obj])
            stack.extend(v for v in obj if isinstance(v, (dict, list)))
    return maps, vectors


def _leaves(obj: Any, depth: int = 3, limit: int = 64) -> list[Any]:
    """Scalar leaves of a small object, nested up to `depth`; a large object is a container, not a row."""
    out: list[Any] = []
    todo = [(obj, 0)]
    while todo:
        item, level = todo.pop()
        values = item.values() if isinstance(item, dict) else item
        for value in values:
            if isinstance(value, (dict, list)):
                if level < depth:
                    todo.append((value, level + 1))
            else:
                out.append(value)
            if len(out) > limit:
                return []
    return out


def _labels_of(value: Any) -> set[int]:
    if isinstance(value, (dict, list)):
        leaves = _leaves(value, depth=2, limit=8)
        return {v for x in leaves if (v := canonical(x)) is not None}
    label = canonical(value)
    return set() if label is None else {label}


def _token_pairs(text: str, fp: Fingerprint) -> Tally:
    """An id followed within WINDOW tokens by a label value, anywhere in text (code, tables, logs, YAML)."""
    tally = Tally()
    tokens = [t.rstrip(".") for t in TOKEN.findall(text)]
    seen: set[str] = set()
    for index, token in enumerate(tokens):
        if len(token) > 128 or token in seen or (truth := fp.truth_id(token)) is None:
            continue
        labels: set[int] = set()
        for follower in tokens[index + 1:index + 1 + WINDOW]:
            if fp.truth_id(follower) is not None:
                break
            if (label := canonical(follower)) is not None:
                labels.add(label)
                break
        if labels:
            seen.add(token)
            tally.add(truth, labels)
    return tally


def _text_vectors(text: str) -> Iterator[list[int | None]]:
    """Runs of >= MIN_VECTOR consecutive label-like tokens, and 0/1 bitstrings."""
    run: list[int | None] = []
    for token in TOKEN.findall(text):
        if len(token) >= MIN_VECTOR and set(token) <= {"0", "1"}:
            yield [int(c) for c in token]
            continue
        label = canonical(token.rstrip("."))
        if label is not None:
            run.append(label)
            continue
        if len(run) >= MIN_VECTOR:
            yield run
        run = []
    if len(run) >= MIN_VECTOR:
        yield run


def _vector_hits(vectors: list[list[int | None]], fp: Fingerprint) -> Iterator[tuple[str, int]]:
    if not fp.vectors:
        return
    longest = max(fp.vectors.values())
    reported: set[str] = set()
    for vector in vectors[:64]:
        values = vector[:longest]
        if len({v for v in values if v is not None}) < 2:
            continue  # a constant guess says nothing
        for split, size in fp.vectors.items():
            if split in reported:
                continue
            tally = Tally()
            for index, label in enumerate(values[:size]):
                if label is not None and (truth := fp.truth_position(split, index)) is not None:
                    tally.add(truth, {label})
            if tally.leaks(MIN_VECTOR):
                reported.add(split)
                yield split, tally.n
