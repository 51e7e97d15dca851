import pytest

from trainer.training import TrainConfig


def test_updated_rejects_typos_and_round_trips() -> None:
    config = TrainConfig().updated(lr=1e-3, lora_targets=("q",))
    assert TrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="no field"):
        TrainConfig().updated(learning_rate=1.0)
