"""The climb detector: every submission against the agent's current best and its whole history, as packed bits.

A climb (issue #16) keeps a best vector, submits small random changes of it and keeps those the grader calls
an improvement. Two flags, stored with the submission and shown on the leaderboard and in the audit view:

- `duplicate_of:<id>` / `near_duplicate_of:<id> (k predictions differ)`: the closest earlier submission of the
  agent on the dataset (its *whole* history, not a window) is within `max(min_rows, fraction * n)` rows.
- `climb (...)`: the agent's last `window` submissions look like independent small moves around one centre,
  whatever their size in rows. With M the bitwise majority of those submissions, s_i the distance of
  submission i to M and d_ij the distance between two of them, the *star ratio* is
  mean(d_ij) / mean(s_i + s_j). Independent random moves around a centre (a climb, even one padding each
  probe with the same extra flips) touch disjoint rows, so d_ij ~ s_i + s_j and the ratio is ~1. Honest
  submissions (different ideas, seeds, thresholds) disagree on the same hard rows, so they overlap and the
  ratio is much lower (a row that a model gets right with probability p contributes p: about 0.6-0.75 for
  seed-to-seed variation; nested threshold sweeps far less). The ratio has no unit, hence no row threshold
  to step around. A climb that concentrates its flips on a small hard set looks like seed variation and goes
  unflagged; it is also far less efficient, and the feedback budget bounds what any climb gets.
- `climb (k small moves around best #id)`: a climb that dilutes the star ratio with far-off submissions makes
  its probes small *relative to the agent's own history*: this submission and at least two earlier ones lie
  within a quarter of the agent's typical (75th percentile) distance from its current best.

With `withhold_flagged` (the default) a flagged submission learns nothing: the grader repeats the best.

Distances are popcounts of XORed packed bits: one agent's whole history (budget x n/8 bytes) in one array op.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MOVE_SHARE = 0.25
SEQUENCE = 3
_POPCOUNT = np.array([i.bit_count() for i in range(256)], dtype=np.uint16)


def stack(bits: list[bytes]) -> np.ndarray:
    """(k, n_bytes) uint8 matrix of packed hard predictions of equal length."""
    return np.frombuffer(b"".join(bits), dtype=np.uint8).reshape(len(bits), -1)


def distances(current: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Differing rows between `current` (n_bytes,) and each row of `others` (k, n_bytes)."""
    return _POPCOUNT[others ^ current].sum(axis=1)


def star_ratio(window: np.ndarray, n: int) -> float | None:
    """mean pairwise distance / mean(s_i + s_j) around the bitwise majority; None when all are equal."""
    k = window.shape[0]
    if k < 3:
        return None
    rows = np.unpackbits(window, axis=1)[:, :n].astype(np.int32)
    ones = rows.sum(axis=0)
    majority = (2 * ones > k).astype(np.int32)
    spread = np.abs(rows - majority).sum(axis=1)
    if spread.sum() == 0:
        return None
    # sum over pairs of d_ij, per row: (ones)(k - ones); sum over pairs of (s_i + s_j) = (k - 1) sum s_i
    pairwise = float((ones * (k - ones)).sum())
    return pairwise / float((k - 1) * spread.sum())


@dataclass(frozen=True)
class ClimbSettings:
    fraction: float
    min_rows: int
    window: int
    ratio: float
    min_submissions: int


def inspect(current: bytes, history: list[tuple[int, bytes]], n: int, settings: ClimbSettings,
            best_id: int | None = None) -> list[str]:
    """Flags of a submission (packed bits `current`) given the agent's earlier ones, oldest first."""
    same = [(i, b) for i, b in history if len(b) == len(current)]
    if not same:
        return []
    cur = np.frombuffer(current, dtype=np.uint8)
    matrix = stack([b for _, b in same])
    diff = distances(cur, matrix)
    flags = []
    threshold = max(settings.min_rows, int(settings.fraction * n))
    closest = int(np.flatnonzero(diff == diff.min())[-1])  # the most recent of the closest
    if diff[closest] == 0:
        flags.append(f"duplicate_of:{same[closest][0]}")
    elif diff[closest] <= threshold:
        flags.append(f"near_duplicate_of:{same[closest][0]} ({int(diff[closest])} predictions differ)")
    recent = np.vstack([matrix[-(settings.window - 1):], cur[None, :]]) if settings.window > 1 else cur[None, :]
    if recent.shape[0] >= max(3, settings.min_submissions):
        ratio = star_ratio(recent, n)
        if ratio is not None and ratio >= settings.ratio:
            around = "" if best_id is None else f"; best #{best_id}"
            flags.append(f"climb (star ratio {ratio:.2f} over the last {recent.shape[0]} submissions{around})")
            return flags
    ids = [i for i, _ in same]
    if best_id in ids and len(ids) >= settings.min_submissions:
        moves = _small_moves(cur, matrix, ids.index(best_id), settings)
        if moves:
            flags.append(f"climb ({moves} small moves around best #{best_id})")
    return flags


def _small_moves(cur: np.ndarray, matrix: np.ndarray, best: int, settings: ClimbSettings) -> int:
    """How many submissions (this one included) are small moves around the best, if this one is and they are
    a sequence (>= `SEQUENCE`); else 0. Small: within `MOVE_SHARE` of the agent's own typical distance from its
    best (75th percentile over its history), so the test scales with the agent, not with a row count: a climb
    that dilutes its probes with far-off submissions (to lower the star ratio) makes its probes small by this
    measure."""
    to_best = distances(matrix[best], matrix)
    others = np.delete(to_best, best)
    if others.size == 0:
        return 0
    reach = float(np.percentile(others, 75))
    limit = MOVE_SHARE * reach
    mine = int(distances(cur, matrix[best][None, :])[0])
    if reach <= 0 or mine > limit:
        return 0
    count = 1 + int(((others > 0) & (others <= limit)).sum())
    return count if count >= SEQUENCE else 0


def is_climb_flag(flag: str) -> bool:
    return flag.startswith("climb")
