"""Fitness from what the agent may see: train_label accuracy after the postprocess, consistency, confidence."""

from __future__ import annotations

import numpy as np
import pytest

from orchestrator.agents.evolve._fitness import consistency, fitness, postprocess

GROUPS = ["a", "a", "b", "b", None]


def test_postprocess_transforms_groups_and_leaves_ungrouped_rows() -> None:
    probs = [0.6, 0.2, 0.3, 0.3, 0.7]
    assert postprocess(probs, GROUPS, "none").tolist() == probs
    assert np.allclose(postprocess(probs, GROUPS, "group_normalize"), [0.75, 0.25, 0.5, 0.5, 0.7])
    assert postprocess(probs, GROUPS, "consistency_fix").tolist() == [1.0, 0.0, 1.0, 0.0, 0.7]
    assert postprocess([1.5, -1.0], [None, None], "none").tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match="unknown postprocess"):
        postprocess(probs, GROUPS, "magic")


def test_consistency_is_one_when_groups_sum_to_one() -> None:
    assert consistency(np.array([0.8, 0.2, 0.4, 0.6, 0.9]), GROUPS) == pytest.approx(1.0)
    assert consistency(np.array([0.8, 0.8, 0.1, 0.1, 0.9]), GROUPS) == pytest.approx(1 - (0.6 + 0.8) / 2)
    assert consistency(np.array([0.5]), [None]) is None


def test_train_label_accuracy_dominates_and_sees_the_postprocess() -> None:
    test = [0.9, 0.1, 0.2, 0.8, 0.5]
    labels = [0.6, 0.55, 0.4, 0.45]  # raw: rows 1 and 3 wrong at 0.5; the group fix repairs both
    targets, groups = [1, 0, 0, 1], ["g1", "g1", "g2", "g2"]
    raw = fitness(test, GROUPS, "none", labels, targets, groups)
    fixed = fitness(test, GROUPS, "consistency_fix", labels, targets, groups)
    assert raw.source == fixed.source == "train_label"
    assert raw.label_accuracy == 0.5 and fixed.label_accuracy == 1.0 and fixed.value > raw.value
    unsupervised = fitness(test, GROUPS, "none")
    assert unsupervised.source == "unsupervised" and unsupervised.label_accuracy is None
    assert 0.0 <= unsupervised.value <= 1.0
    with pytest.raises(ValueError, match="3 train_label predictions for 4 labels"):
        fitness(test, GROUPS, "none", labels[:3], targets, groups)
