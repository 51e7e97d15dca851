import numpy as np
import pytest

from trainer.probes import apply_probe, make_probe, registered_probes


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
