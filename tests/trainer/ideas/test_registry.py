import pytest

from trainer.ideas import make_config, registered_ideas
from trainer.ideas.train_only_on_confident_labels import ConfidentConfig
from trainer.training import ConfigError

BASELINES = {"vanilla_w2s", "train_only_on_confident_labels", "ue_zeroshot", "ue_fewshot", "probe_w2s", "template", "critic"}


def test_baselines_registered_and_configs_typed() -> None:
    assert BASELINES <= set(registered_ideas())
    config = make_config("train_only_on_confident_labels", low=0.3, **{"strong.epochs": 1.0, "weak.seed": 4})
    assert config.low == 0.3 and config.strong.epochs == 1.0 and config.weak.seed == 4
    with pytest.raises(ConfigError, match="lows: unknown field"):
        make_config("vanilla_w2s", lows=1)
    with pytest.raises(ValueError, match="unknown idea"):
        make_config("nope")


def test_every_default_config_is_within_its_bounds() -> None:
    for spec in registered_ideas().values():
        assert isinstance(spec.config_cls(), spec.config_cls)


@pytest.mark.parametrize(("idea", "overrides", "path", "words"), [
    ("probe_w2s", {"contamination": 1.5}, "contamination", "expected a number in [0, 1), got 1.5"),
    ("probe_w2s", {"mode": "drop"}, "mode", 'expected one of "relabel", "filter"'),
    ("probe_w2s", {"probe": "nope"}, "probe", "unknown probe 'nope'"),
    ("train_only_on_confident_labels", {"low": -0.1}, "low", "expected a number in [0, 1], got -0.1"),
    ("train_only_on_confident_labels", {"low": "0.1"}, "low", "got '0.1'"),
    ("train_only_on_confident_labels", {"low": 0.8, "high": 0.2}, "low", "above high=0.2"),
    ("ue_fewshot", {"shots": [2, 0]}, "shots", "an integer in [1, 1024] each"),
    ("ue_zeroshot", {"temperature": 0.0}, "temperature", "expected a number in (0, 100], got 0.0"),
    ("critic", {"num_generations": 1}, "num_generations", "expected an integer in [2, 256], got 1"),
    ("critic", {"critic_model": "gpt-typo"}, "critic_model", "unknown model 'gpt-typo'"),
    ("vanilla_w2s", {"strong.lr": 5.0}, "strong.lr", "expected a number in [0, 1], got 5.0"),
    ("vanilla_w2s", {"weak": {"epochs": -1}}, "weak.epochs", "expected a number in [0.001, 100]"),
])
def test_out_of_bounds_option_refused_with_its_path(idea: str, overrides: dict, path: str, words: str) -> None:
    with pytest.raises(ConfigError) as refused:
        make_config(idea, **overrides)
    assert refused.value.path == path and words in str(refused.value)


def test_config_built_directly_is_checked_too() -> None:
    with pytest.raises(ConfigError, match=r"low: expected a number in \[0, 1\], got 2.0"):
        ConfidentConfig(low=2.0)
    assert make_config("ue_fewshot", shots=[2, 4]).shots == (2, 4)  # JSON lists become the field's tuple


def test_template_is_short() -> None:
    from pathlib import Path

    import trainer.ideas.TEMPLATE as template

    assert len(Path(template.__file__).read_text().splitlines()) < 50
