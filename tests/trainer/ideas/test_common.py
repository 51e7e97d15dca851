import numpy as np

from trainer.ideas._common import balance, consistency_fix, group_normalize


def test_consistency_fix_one_true_per_group() -> None:
    probs = np.array([0.9, 0.8, 0.2, 0.3, 0.7])
    fixed = consistency_fix(probs, ["a", "a", "b", "b", None])
    assert fixed.tolist() == [1, 0, 0, 1, 1]
    assert np.allclose(group_normalize(probs, ["a", "a", "b", "b", None])[:2].sum(), 1.0)


def test_balance_equal_classes() -> None:
    keep = balance(np.array([1, 1, 1, 0, 0, 1.0]), seed=0)
    assert len(keep) == 4 and np.array([1, 1, 1, 0, 0, 1.0])[keep].sum() == 2
