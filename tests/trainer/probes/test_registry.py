import numpy as np
import pytest

from trainer.probes import PerKeyProbe, apply_probe, make_probe, registered_probes


def _clusters(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = np.repeat([0, 1], 40)
    x = rng.normal(size=(80, 8)) + (2 * truth[:, None] - 1) * 2.0  # two clusters on opposite sides of 0
    weak = truth.astype(np.float32).copy()
    flipped = rng.choice(80, 8, replace=False)
    weak[flipped] = 1 - weak[flipped]
    return x, weak, flipped


@pytest.mark.parametrize("name", ["knn", "logreg", "topo"])
def test_probe_finds_flipped_labels(name: str) -> None:
    assert {"knn", "logreg", "topo"} <= set(registered_probes())
    x, weak, flipped = _clusters()
    outcome = apply_probe(make_probe(name), x, weak, "filter", contamination=0.1)
    assert len(outcome.indices) == 72
    assert len(set(flipped) - set(outcome.indices)) >= 6  # most flipped rows are the ones dropped
    relabel = apply_probe(make_probe(name), x, weak, "relabel")
    truth = np.repeat([0, 1], 40)
    assert ((relabel.labels > 0.5) == truth).mean() > ((weak > 0.5) == truth).mean()


def test_bad_parameters() -> None:
    with pytest.raises(ValueError, match="no parameter"):
        make_probe("knn", kk=3)
    with pytest.raises(ValueError, match="mode"):
        apply_probe(make_probe("knn"), np.eye(3), np.ones(3), "drop")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["knn", "logreg"])
def test_per_key_probe_learns_texts_where_a_shared_space_learns_the_twin(name: str) -> None:
    # Each text appears twice (answer "pos" then "neg") with opposite labels, as grouped binary rows do.
    x, weak, _ = _clusters()
    truth = np.repeat([0, 1], 40)
    features = np.repeat(x, 2, axis=0)
    keys = ["pos", "neg"] * 80
    pair_truth = np.stack([truth, 1 - truth], axis=1).reshape(-1)
    pair_weak = np.stack([weak, 1 - weak], axis=1).reshape(-1).astype(np.float32)
    per_key = apply_probe(PerKeyProbe(make_probe(name), keys), features, pair_weak, "relabel")
    shared = apply_probe(make_probe(name), features, pair_weak, "relabel")
    weak_acc = ((pair_weak > 0.5) == pair_truth).mean()
    assert ((per_key.labels > 0.5) == pair_truth).mean() > weak_acc
    assert ((shared.labels > 0.5) == pair_truth).mean() < weak_acc


def test_per_key_probe_leaves_small_keys_and_checks_lengths() -> None:
    weak = np.array([0.9, 0.2, 0.7], dtype=np.float32)
    out = PerKeyProbe(make_probe("knn"), ["a", "b", "c"])(np.eye(3), weak)
    np.testing.assert_array_equal(out, weak)
    with pytest.raises(ValueError, match="2 keys for 3 rows"):
        PerKeyProbe(make_probe("knn"), ["a", "b"])(np.eye(3), weak)
