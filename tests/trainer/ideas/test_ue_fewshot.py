"""The encoder few-shot pass votes only among rows offering the same answer."""

import numpy as np

from trainer.ideas.ue_fewshot import same_answer_neighbours


def test_neighbours_share_the_answer_and_never_include_the_row() -> None:
    rng = np.random.default_rng(0)
    texts = rng.normal(size=(6, 8)).astype(np.float32)
    # Each text appears twice (choice "pos" and "neg"): the nearest row to any row is its own twin.
    features = np.repeat(texts, 2, axis=0)
    keys = ["pos", "neg"] * 6
    nbrs = same_answer_neighbours(features, keys, k=3)
    assert nbrs.shape == (12, 3)
    for i, row in enumerate(nbrs):
        assert i not in row
        assert all(keys[j] == keys[i] for j in row)


def test_vote_follows_similar_texts_not_the_twin() -> None:
    # Two clusters of texts; in cluster A "pos" is true, in cluster B "neg" is true.
    a = np.array([[1.0, 0.0]] * 3) + np.array([[0, 0.01], [0, 0.02], [0, 0.03]])
    b = np.array([[0.0, 1.0]] * 3) + np.array([[0.01, 0], [0.02, 0], [0.03, 0]])
    features = np.repeat(np.vstack([a, b]), 2, axis=0).astype(np.float32)
    keys = ["pos", "neg"] * 6
    labels = np.array([1, 0] * 3 + [0, 1] * 3, dtype=np.float32)
    vote = labels[same_answer_neighbours(features, keys, k=2)].mean(axis=1)
    np.testing.assert_array_equal(vote, labels)


def test_small_answer_groups_cycle_their_neighbours_and_singletons_vote_for_themselves() -> None:
    features = np.eye(6, dtype=np.float32)
    nbrs = same_answer_neighbours(features, ["x", "x", "x", "x", "y", "z"], k=4)
    assert nbrs.shape == (6, 3)
    assert sorted(nbrs[0]) == [1, 2, 3]
    assert list(nbrs[4]) == [4, 4, 4] and list(nbrs[5]) == [5, 5, 5]
