"""Presets reach each recipe as the part of the bundle that recipe trains; clients' own fields win."""

import pytest

from mcp_servers.jobs import JobError
from mcp_servers.train._config_checks import idea_config, preset_config, train_config


def test_preset_parts_per_recipe() -> None:
    assert preset_config(None, "sft") == {}
    sft, weak = preset_config("smoke", "sft"), preset_config("smoke", "weak")
    assert sft["max_steps"] == 2 and "lora" not in sft and weak["lora"] is False
    assert train_config({**sft, "max_steps": 1}).max_steps == 1
    idea = idea_config("vanilla_w2s", "sentiment", preset_config("reference-qwen", "idea"))
    assert idea.strong.model == "Qwen/Qwen3-4B-Base" and idea.weak.rslora


def test_unknown_preset_names_the_known_ones() -> None:
    with pytest.raises(JobError, match="unknown preset 'fast'") as caught:
        preset_config("fast", "idea")
    assert "smoke" in caught.value.fix and "reference-qwen" in caught.value.fix
