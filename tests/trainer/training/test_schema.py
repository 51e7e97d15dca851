"""The one dict form and override path of every config class (TrainConfig and the ideas' configs), and the field
descriptions generated from the classes."""

import pytest

from trainer.ideas import get_idea
from trainer.training import (
    ConfigError,
    TrainConfig,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    describe_fields,
)


def test_an_idea_config_round_trips_with_its_tuples() -> None:
    config = get_idea("ue_fewshot").config_cls()
    data = config_to_dict(config)
    assert data["shots"] == [2, 4, 16] and data["strong"]["model"] == "mpnet-base"
    again = config_from_dict(type(config), data)
    assert again == config and again.shots == (2, 4, 16) and isinstance(again.strong, TrainConfig)


def test_overrides_reach_nested_configs_by_dotted_key_or_dict() -> None:
    base = get_idea("ue_fewshot").config_cls()
    config = apply_overrides(base, {"strong.lr": 1e-3, "weak": {"tier": "lora"}, "shots": [1, 2], "seed": 3})
    assert (config.strong.lr, config.weak.tier, config.shots, config.seed) == (1e-3, "lora", (1, 2), 3)
    assert config.weak.model == base.weak.model  # a nested dict changes only the fields it names
    assert base.strong.lr != 1e-3  # the original is untouched


@pytest.mark.parametrize(("overrides", "message"), [
    ({"strong.lr": "fast"}, "config.strong.lr: expected a number in [0, 1], got 'fast'"),
    ({"strong": {"epochs": -1}}, "config.strong.epochs: expected a number in [0.001, 100], got -1"),
    ({"strong.loss": "nope"}, "config.strong.loss: unknown loss 'nope'; available:"),
    ({"weak.nope": 1}, "config.weak.nope: unknown field; TrainConfig fields:"),
    ({"strong": {"nope": 1}}, "config.strong.nope: unknown field"),
    ({"nope": 1}, "config.nope: unknown field; FewShotConfig fields: dataset, seed, weak, strong, shots"),
    ({"seed.x": 1}, "config.seed: is not a nested config"),
    ({"mix": "half"}, "config.mix: expected a number in [0, 1], got 'half'"),
    ({"shots": "2,4"}, "config.shots: expected a list of 1 to 16 items (an integer in [1, 1024] each), got '2,4'"),
])
def test_bad_overrides_name_the_full_field_path(overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        apply_overrides(get_idea("ue_fewshot").config_cls(), overrides, "config")
    assert str(caught.value).startswith(message), str(caught.value)


def test_field_descriptions_come_from_the_class() -> None:
    docs = {f.name: f for f in describe_fields(TrainConfig)}
    assert [f.name for f in describe_fields(TrainConfig)][:3] == ["model", "seed", "epochs"]
    epochs = docs["epochs"]
    assert (epochs.type, epochs.default, epochs.minimum, epochs.maximum) == ("float", 2.0, 0.001, 100)
    assert epochs.doc.startswith("Passes over the data") and epochs.expected == "a number in [0.001, 100]"
    assert docs["tier"].choices == ["head", "lora", "full"] and docs["tier"].type.endswith("| None")
    assert docs["lora_targets"].type == "tuple[str, ...] | None" and docs["betas"].default == [0.9, 0.95]
    own = {f.name for f in describe_fields(get_idea("train_only_on_confident_labels").config_cls,
                                           skip=("dataset", "seed", "weak", "strong"))}
    assert own == {"low", "high", "min_rows"}
