import pytest

from trainer.ideas import make_config, registered_ideas

BASELINES = {"vanilla_w2s", "train_only_on_confident_labels", "ue_zeroshot", "ue_fewshot", "probe_w2s", "template", "critic"}


def test_baselines_registered_and_configs_typed() -> None:
    assert BASELINES <= set(registered_ideas())
    config = make_config("train_only_on_confident_labels", low=0.3, **{"strong.epochs": 1.0, "weak.seed": 4})
    assert config.low == 0.3 and config.strong.epochs == 1.0 and config.weak.seed == 4
    with pytest.raises(ValueError, match="no option"):
        make_config("vanilla_w2s", lows=1)
    with pytest.raises(ValueError, match="unknown idea"):
        make_config("nope")


def test_template_is_short() -> None:
    from pathlib import Path

    import trainer.ideas.TEMPLATE as template

    assert len(Path(template.__file__).read_text().splitlines()) < 50
