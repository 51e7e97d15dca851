import json
import random
from pathlib import Path

import numpy as np
import pytest

from tests.trainer.trainer_helpers import binary_rows, preference_rows
from trainer.classifier import load_checkpoint
from trainer.inference import predict_logits, predict_proba
from trainer.training import TrainConfig, epoch_batches, lr_factor, train


def test_schedule_and_batches() -> None:
    assert lr_factor(0, 10, 2, "linear") < lr_factor(1, 10, 2, "linear") < 1.0 + 1e-9
    assert lr_factor(9, 10, 2, "linear") < lr_factor(5, 10, 2, "linear")
    batches = epoch_batches([5, 1, 3, 9, 2, 7], 2, random.Random(0))
    assert sorted(i for b in batches for i in b) == list(range(6))


def test_encoder_lora_trains_logs_and_reloads(tmp_path: Path) -> None:
    rows = binary_rows(4, 0, "t", True)
    config = TrainConfig(model="minilm-l6", max_steps=2, batch_size=2, grad_accum=2, log_every=1, progress=False,
                         loss="logconf", max_length=64)
    seen: list[dict] = []
    result = train(config, rows, [r.target() for r in rows], tmp_path, on_log=seen.append)
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [1, 2] and seen[-1]["total_steps"] == 2
    assert {"loss", "lr", "grad_norm", "agreement"} <= set(lines[0])
    before = predict_proba(result.classifier, rows)
    after = predict_proba(load_checkpoint(tmp_path / "checkpoint"), rows)
    assert np.allclose(before, after, atol=1e-5)


@pytest.mark.parametrize("center", [False, True])
def test_encoder_start_is_centered_on_the_training_rows(center: bool) -> None:
    """LoRA tier: the head's offset starts at minus the mean zero-shot margin of the training rows (no label read)."""
    rows = binary_rows(6, 0, "t", True)
    config = TrainConfig(model="minilm-l6", max_steps=1, batch_size=2, lr=0.0, head_lr=0.0, progress=False,
                         max_length=64, center_start=center)
    logits = predict_logits(train(config, rows, [0.0] * len(rows)).classifier, rows)
    margins = logits[:, 1] - logits[:, 0]
    if center:
        assert abs(float(margins.mean())) < 1e-4 and (margins > 0).any() and (margins < 0).any()
    else:
        assert float(margins.mean()) > 0.05  # the text-answer cosine: positive on average


def test_causal_lm_trains_and_predicts(tmp_path: Path) -> None:
    """SmolLM2 answer-token path: a few LoRA steps on preference rows, then probabilities."""
    rows = preference_rows(4, 0, "t", True)
    config = TrainConfig(model="smollm2-135m", max_steps=2, batch_size=2, lr=1e-3, progress=False, max_length=64)
    result = train(config, rows, [r.target() for r in rows], tmp_path)
    probs = predict_proba(result.classifier, rows)
    assert probs.shape == (4,) and np.all((probs > 0) & (probs < 1))
    assert json.loads((tmp_path / "checkpoint" / "classifier.json").read_text())["lora"] is True
    assert (tmp_path / "checkpoint" / "backbone" / "adapter_config.json").is_file()


def test_label_count_mismatch() -> None:
    with pytest.raises(ValueError, match="one label per row"):
        train(TrainConfig(model="minilm-l6"), binary_rows(2, 0, "t", True), [1.0])
