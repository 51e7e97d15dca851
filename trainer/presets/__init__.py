"""Named bundles of config overrides (`w2s run --preset NAME`): one TOML file per preset in this folder.

A preset's `[weak]` and `[strong]` tables set TrainConfig fields of the two models, top-level keys set the idea's
own options; `--set` overrides applied after a preset win. Adding a preset is adding a file.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

_FOLDER = Path(__file__).parent


def registered_presets() -> dict[str, str]:
    """Preset name -> its first comment line (what it is for)."""
    out = {}
    for path in sorted(_FOLDER.glob("*.toml")):
        first = path.read_text().splitlines()[0] if path.stat().st_size else ""
        out[path.stem] = first.lstrip("# ").strip()
    return out


def load_preset(name: str) -> dict[str, Any]:
    """The preset as flat overrides (`weak.lr`, `strong.model`, `shots`, ...) for `make_config`."""
    path = _FOLDER / f"{name}.toml"
    if "/" in name or not path.is_file():
        raise ValueError(f"unknown preset {name!r}; available: {', '.join(registered_presets())}")
    data = tomllib.loads(path.read_text())
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            if key not in ("weak", "strong"):
                raise ValueError(f"preset {name!r}: table [{key}] is not [weak] or [strong]")
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            flat[key] = value  # arrays stay lists: configs take lists for tuple fields, as from JSON
    return flat

