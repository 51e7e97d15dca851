"""Every shipped preset is valid for every idea; bad presets fail with a message naming the problem."""

from pathlib import Path

import pytest

from trainer import presets
from trainer.ideas import make_config, registered_ideas


@pytest.mark.parametrize("name", sorted(presets.registered_presets()))
def test_preset_applies_to_every_idea(name: str) -> None:
    overrides = presets.load_preset(name)
    assert overrides and presets.registered_presets()[name]  # a first-line comment says what it is for
    for idea in registered_ideas():
        config = make_config(idea, **overrides)
        assert config.strong.model == overrides.get("strong.model", config.strong.model)


def test_reference_preset_matches_the_reference_recipe() -> None:
    ref = make_config("vanilla_w2s", **presets.load_preset("reference-qwen"))
    assert ref.weak.model == "Qwen/Qwen1.5-0.5B-Chat" and ref.strong.model == "Qwen/Qwen3-4B-Base"
    for side in (ref.weak, ref.strong):
        assert (side.lora_r, side.lora_alpha, side.rslora, side.lr, side.epochs) == (32, 32, True, 1e-4, 5)
        assert side.batch_size * side.grad_accum == 32 and side.betas == (0.9, 0.95) and side.precision == "bf16"


def test_arrays_reach_tuple_fields_and_bad_presets_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(presets, "_FOLDER", tmp_path)
    (tmp_path / "ok.toml").write_text('# fine\nshots = [2, 4]\n[strong]\nbetas = [0.9, 0.99]\n')
    assert presets.load_preset("ok") == {"shots": [2, 4], "strong.betas": [0.9, 0.99]}
    config = make_config("ue_fewshot", **presets.load_preset("ok"))  # configs take lists for tuple fields, as JSON
    assert config.shots == (2, 4) and config.strong.betas == (0.9, 0.99)
    (tmp_path / "bad.toml").write_text("# bad\n[optimizer]\nlr = 1\n")
    with pytest.raises(ValueError, match=r"table \[optimizer\] is not \[weak\] or \[strong\]"):
        presets.load_preset("bad")
    with pytest.raises(ValueError, match="unknown preset 'missing'; available: bad, ok"):
        presets.load_preset("missing")
    with pytest.raises(ValueError, match="unknown preset"):
        presets.load_preset("../ok")
