"""TrainConfig validates itself: bounds, types and registry names are refused with the field's name and what it
takes; to_dict / from_dict is the one JSON form."""

import json

import pytest

from trainer.training import ConfigError, TrainConfig


def test_to_dict_from_dict_round_trip_through_json() -> None:
    config = TrainConfig(lora_targets=("q", "v"), betas=(0.8, 0.9), loss="logconf", loss_params={"aux_coef": 0.25},
                         max_steps=3, tier="head")
    data = json.loads(json.dumps(config.to_dict()))
    assert data["betas"] == [0.8, 0.9] and data["lora_targets"] == ["q", "v"]
    again = TrainConfig.from_dict(data)
    assert again == config and again.betas == (0.8, 0.9) and again.lora_targets == ("q", "v")


def test_updated_refuses_typos_and_checks_values() -> None:
    config = TrainConfig().updated(lr=1e-3, lora_targets=["q"])
    assert config.lr == 1e-3 and config.lora_targets == ("q",)
    with pytest.raises(ConfigError, match="learning_rate: unknown field; TrainConfig fields: model, seed"):
        TrainConfig().updated(learning_rate=1.0)
    with pytest.raises(ConfigError, match=r"^epochs: expected a number in \[0.001, 100\], got -1$"):
        TrainConfig().updated(epochs=-1)


@pytest.mark.parametrize(("data", "message"), [
    ({"epochs": "1"}, "epochs: expected a number in [0.001, 100], got '1'"),
    ({"lr": "fast"}, "lr: expected a number in [0, 1], got 'fast'"),
    ({"batch_size": 2.5}, "batch_size: expected an integer in [1, 4096], got 2.5"),
    ({"max_steps": 0}, "max_steps: expected an integer in [1, 1000000] or null, got 0"),
    ({"lora": "yes"}, "lora: expected true or false, got 'yes'"),
    ({"schedule": "step"}, 'schedule: expected one of "linear", "cosine", "constant", got \'step\''),
    ({"betas": [0.9]}, "betas: expected a list of 2 (a number in [0, 1) each), got [0.9]"),
    ({"loss": "xnet"}, "loss: unknown loss 'xnet'; available: entropy, kl, logconf, soft_xent, window, xent"),
    ({"loss": "logconf", "loss_params": {"aux": 1}}, "loss_params.aux: unknown field"),
    ({"loss": "logconf", "loss_params": {"aux_coef": "big"}}, "loss_params.aux_coef: expected a number, got 'big'"),
    ({"model": "mpnet-bsae"}, "model: unknown model 'mpnet-bsae': not a registry name (minilm-l6, mpnet-base"),
    ({"bogus": 1}, "bogus: unknown field"),
])
def test_bad_values_name_the_field_path_and_what_it_takes(data: dict, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        TrainConfig.from_dict(data, "strong")
    assert str(caught.value).startswith(f"strong.{message}"), str(caught.value)
    assert caught.value.path.startswith("strong.")


def test_models_are_registry_names_hf_ids_or_paths_and_nothing_is_fetched() -> None:
    for name in ("minilm-l6", "Qwen/Qwen3-4B-Base", "runs/train-1/checkpoint", "/models/my-model", "./local"):
        assert TrainConfig(model=name).model == name
    for name in ("gpt2", "mpnet", "", "a\nb/c", "a/\u202egnp.exe", "a/\x9b2J", "a/b\u2028c", "a/\u200bb"):
        with pytest.raises(ValueError, match="model"):
            TrainConfig.from_dict({"model": name})


def test_building_one_directly_refuses_the_same_way() -> None:
    with pytest.raises(ConfigError, match=r"^epochs: expected a number in \[0.001, 100\], got '1'$"):
        TrainConfig(epochs="1")
    with pytest.raises(ConfigError, match="^bogus: unknown field; TrainConfig fields: model, seed"):
        TrainConfig(bogus=1)  # type: ignore[call-arg]
