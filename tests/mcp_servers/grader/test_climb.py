from __future__ import annotations

import numpy as np

from mcp_servers.grader._climb import ClimbSettings, inspect, is_climb_flag, stack, star_ratio
from mcp_servers.grader._integrity import pack_hard

N = 700
SETTINGS = ClimbSettings(fraction=0.01, min_rows=5, window=20, ratio=0.85, min_submissions=10)


def _climb(rng: np.random.Generator, size: int, count: int) -> list[np.ndarray]:
    centre = rng.integers(0, 2, N)
    out = []
    for _ in range(count):
        probe = centre.copy()
        rows = rng.choice(N, size, replace=False)
        probe[rows] ^= 1
        out.append(probe)
    return out


def _honest(rng: np.random.Generator, count: int) -> list[np.ndarray]:
    truth = rng.integers(0, 2, N)
    skill = np.where(rng.random(N) < 0.7, 0.97, rng.uniform(0.4, 0.8, N))
    return [np.where(rng.random(N) < skill, truth, 1 - truth) for _ in range(count)]


def _flags(vectors: list[np.ndarray], best: int = 0) -> list[list[str]]:
    bits = [pack_hard(v) for v in vectors]
    return [inspect(bits[k], list(enumerate(bits[:k], 1)), N, SETTINGS, best_id=best + 1 if k > best else None)
            for k in range(len(bits))]


def test_star_ratio_separates_a_climb_from_honest_models_whatever_the_size() -> None:
    rng = np.random.default_rng(0)
    for size in (2, 10, 40):
        ratio = star_ratio(stack([pack_hard(v) for v in _climb(rng, size, 20)]), N)
        assert ratio is not None and ratio > 0.9, size
    honest = star_ratio(stack([pack_hard(v) for v in _honest(rng, 20)]), N)
    assert honest is not None and honest < 0.8


def test_climb_flagged_and_honest_sequence_not() -> None:
    rng = np.random.default_rng(1)
    climb = _flags(_climb(rng, 30, 30))  # 30 rows a probe: beyond any near-duplicate threshold
    assert sum(any(is_climb_flag(f) for f in fl) for fl in climb) >= 20
    honest = _flags(_honest(rng, 30))
    assert not any(honest)


def test_whole_history_near_duplicate() -> None:
    rng = np.random.default_rng(2)
    first = rng.integers(0, 2, N)
    others = [rng.integers(0, 2, N) for _ in range(300)]  # far more than any window
    late = first.copy()
    late[:3] ^= 1
    flags = _flags([first, *others, late])[-1]
    assert "near_duplicate_of:1 (3 predictions differ)" in flags


def test_diluted_climb_still_flagged() -> None:
    """Decoys far from the centre between probes lower the star ratio; the probes stay small moves around the
    best relative to the agent's own history."""
    rng = np.random.default_rng(3)
    centre = rng.integers(0, 2, N)
    vectors = [centre]
    for k in range(30):
        v = centre.copy()
        v[rng.choice(N, 200 if k % 2 else 30, replace=False)] ^= 1
        vectors.append(v)
    flags = _flags(vectors)
    probes = [fl for k, fl in enumerate(flags[1:]) if k % 2 == 0]
    assert sum(any(is_climb_flag(f) for f in fl) for fl in probes[5:]) >= len(probes[5:]) - 1
