"""Integrity mechanisms: the public/private test split, the Ladder, the near-duplicate detector.

- Public/private split: every test row is assigned by a keyed hash of its consistency group (or its id when it
  has none), so both candidates of a group fall on the same side. The key is a random salt kept in the label
  store, so an agent cannot tell which rows count. Agents are scored on the public part only.
- Ladder (Blum & Hardt 2015, "The Ladder: A Reliable Leaderboard for Machine Learning Competitions"): per agent,
  dataset and part, the grader reports a new accuracy only when it beats the agent's best reported accuracy by
  at least `step`; the new value is floored to a multiple of `step`. Otherwise it repeats the best. A probe that
  changes a few predictions moves accuracy by far less than `step`, so it learns nothing.
- Near-duplicate detector: a submission whose hard predictions differ from one of the agent's recent
  submissions on the same dataset in at most `max(min_rows, fraction * n)` rows is flagged; flags are stored
  and shown on the leaderboard.
"""

from __future__ import annotations

import hashlib
import math
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mcp_servers.grader.datasets import HiddenLabels

SALT_FILE = ".split_salt"


def split_salt(label_store: Path) -> str:
    """The secret key of the public/private split, created once (0600) in the label store."""
    path = label_store / SALT_FILE
    if not path.exists():
        label_store.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
    for _ in range(50):
        text = path.read_text().strip()
        if text:
            return text
    raise RuntimeError(f"empty split salt at {path}")


def public_mask(labels: HiddenLabels, fraction: float, salt: str) -> np.ndarray:
    """True for the rows agents are scored on; deterministic given the salt, whole groups together."""
    if not 0 < fraction <= 1:
        raise ValueError("public_fraction must be in (0, 1]")
    keys = [g if g is not None else f"id:{i}" for g, i in zip(
        labels.groups or [None] * len(labels), labels.ids, strict=True)]
    cut = int(fraction * 2**64)
    prefix = f"{salt}\x00{labels.dataset}\x00".encode()
    return np.array([int.from_bytes(hashlib.sha256(prefix + k.encode()).digest()[:8], "big") < cut for k in keys],
                    dtype=bool)


def floor_to(value: float, step: float) -> float:
    return round(math.floor(value / step + 1e-9) * step, 6)


def ladder(accuracy: float, best: float | None, step: float) -> tuple[float, bool]:
    """(reported accuracy, improved): a new value only when it beats `best` by at least `step`."""
    if best is None or accuracy >= best + step - 1e-12:
        reported = floor_to(accuracy, step)
        if best is None or reported > best:
            return reported, True
    return best, False  # type: ignore[return-value]


def pack_hard(hard: np.ndarray) -> bytes:
    return np.packbits(hard.astype(np.uint8)).tobytes()


@dataclass(frozen=True)
class NearDuplicate:
    submission_id: int
    differing: int

    def flag(self) -> str:
        if self.differing == 0:
            return f"duplicate_of:{self.submission_id}"
        return f"near_duplicate_of:{self.submission_id} ({self.differing} predictions differ)"


def near_duplicate(bits: bytes, earlier: list[tuple[int, bytes]], n: int, fraction: float,
                   min_rows: int) -> NearDuplicate | None:
    """The closest earlier submission within the threshold, if any (`earlier`: (id, packed hard bits))."""
    if not earlier:
        return None
    threshold = max(min_rows, int(fraction * n))
    current = np.frombuffer(bits, dtype=np.uint8)
    same = [(sub_id, other) for sub_id, other in earlier if len(other) == current.size]
    if not same:
        return None
    stacked = np.frombuffer(b"".join(other for _, other in same), dtype=np.uint8).reshape(len(same), -1)
    differing = np.unpackbits(stacked ^ current, axis=1).sum(axis=1)
    best = int(np.argmin(differing))  # the first (most recent) of the closest
    if differing[best] > threshold:
        return None
    return NearDuplicate(int(same[best][0]), int(differing[best]))
