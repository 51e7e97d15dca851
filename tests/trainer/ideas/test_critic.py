"""Critic helpers that need no model: row caps, prompts, critiques appended to the row."""

import numpy as np
import pytest

from tests.trainer.trainer_helpers import binary_rows
from trainer.ideas.critic import _subset, critic_prompt, judge_labels, with_critique


def test_subset_is_seeded_keeps_targets_aligned_and_passes_through_without_a_cap() -> None:
    rows = binary_rows(10, 0, "train_label", True)
    targets = np.arange(len(rows))
    same, same_t = _subset(rows, targets, None, 0)
    assert same == rows and same_t is targets
    picked, picked_t = _subset(rows, targets, 4, 3)
    assert len(picked) == 4 and [rows.index(r) for r in picked] == list(picked_t)
    groups = [r.consistency_id for r in picked]
    assert all(groups.count(g) == 2 for g in groups)  # whole groups (each text with both answers)
    assert _subset(rows, targets, 4, 3)[0] == picked and _subset(rows, targets, 4, 4)[0] != picked
    with pytest.raises(ValueError, match="at least 1"):
        _subset(rows, targets, 0, 0)


def test_critique_is_appended_to_the_question_and_the_prompt_asks_for_one() -> None:
    row = binary_rows(1, 0, "train_unlabel", True)[0]
    shown = with_critique([row], [" seems right \n"])[0]
    assert shown.question.endswith("\n\nCritique: seems right") and shown.choice == row.choice
    assert critic_prompt(row).endswith("Is this answer correct, and why? One sentence.\nCritique:")


def test_judge_labels_pick_one_per_group_and_match_the_class_ratio_elsewhere() -> None:
    probs = np.array([0.9, 0.95, 0.97, 0.8, 0.99, 0.6, 0.7, 0.65], dtype=np.float32)  # a judge saying True to all
    groups = ["a", "a", "b", "b", None, None, None, None]
    labels = judge_labels(probs, groups, positive_rate=0.5)
    assert list(labels[:4]) == [0, 1, 1, 0]  # the higher candidate of each group
    assert list(labels[4:]) == [1, 0, 1, 0]  # ungrouped: top half, as train_label is half positive
    lone = judge_labels(np.array([0.9, 0.8, 0.7, 0.6]), ["a", "b", "c", "d"], positive_rate=0.5)
    assert list(lone) == [1, 1, 0, 0]  # groups cut to one member by a row cap are thresholded, not all True


def test_judge_labels_centre_a_judge_that_prefers_one_answer_everywhere() -> None:
    # Groups (text, answer): the judge rates "pos" higher in every group, but by more where "pos" is right.
    probs = np.array([0.95, 0.6, 0.7, 0.65, 0.96, 0.55, 0.72, 0.7])
    groups = ["a", "a", "b", "b", "c", "c", "d", "d"]
    answers = ["pos", "neg"] * 4
    assert list(judge_labels(probs, groups, 0.5)) == [1, 0] * 4  # uncentred: "pos" wins everywhere
    assert list(judge_labels(probs, groups, 0.5, answers)) == [1, 0, 0, 1, 1, 0, 0, 1]
