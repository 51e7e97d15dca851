import pytest
from transformers import AutoConfig, AutoModel

from trainer.models import resolve_model
from trainer.training import LORA_TARGETS, lora_targets


def test_table_matches_real_module_names() -> None:
    for name, model_type in (("minilm-l6", "bert"), ("mpnet-base", "mpnet")):
        model = AutoModel.from_config(AutoConfig.from_pretrained(resolve_model(name).path))
        assert lora_targets(model) == list(LORA_TARGETS[model_type])
    assert LORA_TARGETS["mpnet"] == ("q", "v")
    assert "gate_proj" in LORA_TARGETS["qwen3"] and "down_proj" in LORA_TARGETS["llama"]


def test_bad_override_is_refused() -> None:
    model = AutoModel.from_config(AutoConfig.from_pretrained(resolve_model("minilm-l6").path))
    with pytest.raises(ValueError, match="match no module"):
        lora_targets(model, ("q_proj",))
