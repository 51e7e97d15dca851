import numpy as np

from tests.trainer.trainer_helpers import binary_rows
from trainer.classifier import load_classifier
from trainer.inference import embed, predict, predict_proba
from trainer.training import TrainConfig, train


def test_batched_equals_per_row_in_original_order() -> None:
    rows = binary_rows(6, 1, "t", True)
    rows[3] = rows[3].model_copy(update={"question": rows[3].question + " and much longer" * 10})
    result = train(TrainConfig(model="minilm-l6", max_steps=1, batch_size=4, progress=False), rows,
                   [r.target() for r in rows])
    batched = predict_proba(result.classifier, rows, batch_size=5)
    single = np.array([predict_proba(result.classifier, [r], batch_size=1)[0] for r in rows])
    assert np.allclose(batched, single, atol=1e-5)
    assert np.allclose(predict(result.classifier, rows), batched)


def test_embed_shape() -> None:
    clf = load_classifier("minilm-l6", "binary", 64)
    assert embed(clf, binary_rows(2, 0, "t", False)).shape == (4, 4 * 384)  # [u, v, u*v, |u-v|]
