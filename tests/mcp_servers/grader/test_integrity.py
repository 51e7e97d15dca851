from __future__ import annotations

from pathlib import Path

import numpy as np

from mcp_servers.grader._integrity import floor_to, ladder, near_duplicate, pack_hard, public_mask, split_salt
from mcp_servers.grader.datasets import HiddenLabels
from trainer.data import TaskType


def test_split_keeps_groups_together_and_is_deterministic(tmp_path: Path) -> None:
    n = 2000
    labels = HiddenLabels("d", "test", TaskType.BINARY, ids=[f"r{i}" for i in range(n)], labels=[0] * n,
                          subsets=[None] * n, groups=[f"g{i // 2}" for i in range(n)])
    salt = split_salt(tmp_path)
    assert split_salt(tmp_path) == salt and (tmp_path / ".split_salt").stat().st_mode & 0o077 == 0
    mask = public_mask(labels, 0.5, salt)
    assert (mask[0::2] == mask[1::2]).all() and 0.4 < mask.mean() < 0.6
    assert (public_mask(labels, 0.5, salt) == mask).all() and not (public_mask(labels, 0.5, "other") == mask).all()


def test_ladder() -> None:
    assert ladder(0.6543, None, 0.01) == (0.65, True)
    assert ladder(0.6599, 0.65, 0.01) == (0.65, False)
    assert ladder(0.6601, 0.65, 0.01) == (0.66, True)
    assert ladder(0.50, 0.65, 0.01) == (0.65, False)
    assert floor_to(0.29, 0.01) == 0.29


def test_near_duplicate() -> None:
    a = np.zeros(1000, dtype=np.int8)
    b = a.copy()
    b[:3] = 1
    c = 1 - a
    earlier = [(1, pack_hard(c)), (2, pack_hard(a))]
    found = near_duplicate(pack_hard(b), earlier, 1000, 0.01, 5)
    assert found is not None and found.submission_id == 2 and found.differing == 3
    assert "3 predictions differ" in found.flag()
    assert near_duplicate(pack_hard(a), earlier, 1000, 0.01, 5).flag() == "duplicate_of:2"  # type: ignore[union-attr]
    assert near_duplicate(pack_hard(c), [(2, pack_hard(a))], 1000, 0.01, 5) is None
