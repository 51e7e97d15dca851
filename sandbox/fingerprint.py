"""Operator side: salted hashes of the hidden labels, for the leak scanner to recognize labeled copies.

    python -m sandbox.fingerprint --out fp.json   (reads trainer.paths(): the label store and the public data)

Run OUTSIDE every sandbox. The scanner compares rows against these hashes and so never carries labels in the
clear; but a binary label hashed with a public id is easy to invert (hash both answers), so the file itself is as
secret as the labels: hand it to a scan run on stdin (`--fingerprint -`), never bind it or leave it readable.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import secrets
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

CONTENT_FIELDS: tuple[str, ...] = ("prompt", "first", "second", "question", "choice")
MIN_TEXT = 20
"""Shorter strings (answer words, choices) are too common to mean anything."""
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    return _SPACE.sub(" ", text).strip().lower()


def digest(salt: str, *parts: str) -> str:
    """64-bit truncated salted sha256: enough to tell rows apart, short enough for big splits."""
    return hashlib.sha256("\x1f".join([salt, *parts]).encode()).hexdigest()[:16]


def content_key(row: dict[str, Any]) -> str | None:
    """The row's content fields joined: what identifies a hidden row without its id."""
    parts = [normalize(str(row[f])) for f in CONTENT_FIELDS if isinstance(row.get(f), str)]
    return "\x1e".join(parts) if parts else None


def segments(row: dict[str, Any]) -> Iterator[str]:
    """Paragraphs inside content fields (a raw snippet sits inside a templated question), never whole fields."""
    for name in CONTENT_FIELDS:
        value = row.get(name)
        if isinstance(value, str):
            parts = [normalize(p) for p in value.split("\n\n")]
            if len(parts) > 1:
                yield from (p for p in parts if len(p) >= MIN_TEXT)


def _jsonl(path: Path) -> Iterable[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def build(label_store: Path, data_dir: Path, datasets: list[str] | None = None) -> dict[str, Any]:
    """Hashes of (id, label), (content, label), (position, label) and raw-text segments of every hidden split.

    Positions follow the public file's row order (what an agent sees), so a bare vector of labels written in
    that order is recognised without ids; the store's order stands in where the public file is missing."""
    from mcp_servers.grader.datasets import LabelStore

    store = LabelStore(label_store)
    salt = secrets.token_hex(16)
    ids, pairs, contents, content_pairs, positions = set(), set(), set(), set(), set()
    vectors: dict[str, int] = {}
    content_labels: dict[str, set[int]] = defaultdict(set)
    seg_counts: dict[str, int] = defaultdict(int)
    for dataset in datasets or store.datasets():
        for split in store.meta(dataset).get("sizes", {}):
            hidden = store.load(dataset, split)
            labels = dict(zip(hidden.ids, hidden.labels, strict=True))
            for row_id, label in labels.items():
                ids.add(digest(salt, "id", row_id))
                pairs.add(digest(salt, "id", row_id, str(label)))
            public = data_dir / dataset / f"{split}.jsonl"
            rows = list(_jsonl(public)) if public.is_file() else [{"id": i} for i in hidden.ids]
            order = [labels.get(str(row.get("id"))) for row in rows]
            split_key = f"{dataset}/{split}"
            vectors[split_key] = len(order)
            positions |= {digest(salt, "pos", split_key, str(i), str(label)) for i, label in enumerate(order)
                          if label is not None}
            for row in rows if public.is_file() else []:
                label = labels.get(str(row.get("id")))
                key = content_key(row)
                if label is None or key is None:
                    continue
                content_labels[key].add(label)
                for segment in set(segments(row)):
                    seg_counts[digest(salt, "seg", segment)] += 1
    # A paragraph in many rows is the template ("Is this review positive?"), not a snippet: leave it out.
    segs = {seg for seg, count in seg_counts.items() if count <= 4}
    for key, found in content_labels.items():
        # A content that occurs with both labels says nothing about either; leave it out.
        if len(found) == 1:
            contents.add(digest(salt, "content", key))
            content_pairs.add(digest(salt, "content", key, str(next(iter(found)))))
    return {"version": 1, "salt": salt, "ids": sorted(ids), "pairs": sorted(pairs), "contents": sorted(contents),
            "content_pairs": sorted(content_pairs), "segments": sorted(segs), "positions": sorted(positions),
            "vectors": vectors}


def main(argv: list[str] | None = None) -> int:
    from trainer import paths

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="-", help="output file (default stdout)")
    parser.add_argument("--dataset", action="append", help="limit to these datasets")
    args = parser.parse_args(argv)
    where = paths()
    text = json.dumps(build(where.label_store_dir, where.data_dir, args.dataset))
    if args.out == "-":
        sys.stdout.write(text + "\n")
    else:
        out = Path(args.out)
        out.touch(mode=0o600)
        out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
