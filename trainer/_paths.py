"""Where w2s-lab keeps its files, split along the trust boundary.

    $W2S_HOME/
      public/data/<dataset>/      what a sandbox may read: train_label (with labels), train_unlabel and test (without)
      public/models/              model weights joined or converted from packaged assets
      public/artifacts/           weak-label artifacts, cached by config hash
      private/raw/                packaged raw corpora (they carry labels: never bound into a sandbox)
      private/labeled_data/       testbeds in the reference's labeled format
      private/labels/<dataset>/   the grader's label store
      private/state/              server databases and their litestream replicas
      workspaces/<agent>/         one agent's read-write workspace

Every location can be moved with its own environment variable; code asks this module, never builds paths itself.
The operator's settings file (`W2S_CONFIG`, read by the servers' settings too) may move the two trusted locations
the servers take as settings, under the same names they have there: `label_store` (top level or `[grader]`) and
`state_dir` (top level). The environment variable wins over the file, as in the servers' settings, so every guard
(sandbox policy, compute guard, calibration) and the grader agree on one location whichever way it was moved.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONFIG_ENV = "W2S_CONFIG"
"""The operator's settings file (TOML); mcp_servers.core reads the same file."""


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


def _settings_file() -> dict[str, Any]:
    """Top-level keys of the settings file with the `[grader]` table over them (the keys that move a location)."""
    path = os.environ.get(CONFIG_ENV)
    if not path:
        return {}
    try:
        raw = tomllib.loads(Path(path).expanduser().read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{CONFIG_ENV}={path}: cannot read the settings file: {exc}") from None
    out = {k: v for k, v in raw.items() if not isinstance(v, dict)}
    if isinstance(raw.get("grader"), dict):
        out.update({k: v for k, v in raw["grader"].items() if k == "label_store"})
    return out


def _located(env: str, key: str, settings: dict[str, Any], default: Path) -> Path:
    """`env` if set, else the settings file's `key`, else `default` (the servers' settings use the same order)."""
    if os.environ.get(env):
        return _env_path(env, default)
    value = settings.get(key)
    return Path(str(value)).expanduser().resolve() if value else default


def default_home() -> Path:
    """`$W2S_HOME`, else `$XDG_DATA_HOME/w2s-lab`, else `~/.local/share/w2s-lab`."""
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return _env_path("W2S_HOME", (base / "w2s-lab").resolve())


@dataclass(frozen=True)
class W2SPaths:
    """Resolved locations; build one with `W2SPaths.from_env()`."""

    home: Path
    """Root of everything below unless a more specific variable moves it."""
    data_dir: Path
    """Public data tree (`W2S_DATA_DIR`): `<dataset>/{train_label,train_unlabel,test}.jsonl`."""
    models_dir: Path
    """Cache of models prepared from packaged assets (`W2S_MODELS_DIR`)."""
    artifacts_dir: Path
    """Weak-label artifacts and other reusable results (`W2S_ARTIFACTS_DIR`)."""
    raw_dir: Path
    """Raw labeled corpora installed with `pip --target` (`W2S_RAW_DIR`); operator side only."""
    labeled_dir: Path
    """Testbeds written in the reference's `labeled_data/` format (`W2S_LABELED_DIR`); operator side only."""
    label_store_dir: Path
    """The grader's label store (`W2S_LABEL_STORE`, or `label_store` in the settings file); only the grader reads
    it. The one name: the grader's settings alias the same variable (there is no `W2S_GRADER_LABEL_STORE`)."""
    state_dir: Path
    """Server databases and replicas (`W2S_STATE_DIR`, or top-level `state_dir` in the settings file)."""
    workspaces_dir: Path
    """Agent workspaces (`W2S_WORKSPACES_DIR`)."""

    @classmethod
    def from_env(cls) -> W2SPaths:
        home = default_home()
        public, private = home / "public", home / "private"
        settings = _settings_file()
        return cls(
            home=home,
            data_dir=_env_path("W2S_DATA_DIR", public / "data"),
            models_dir=_env_path("W2S_MODELS_DIR", public / "models"),
            artifacts_dir=_env_path("W2S_ARTIFACTS_DIR", public / "artifacts"),
            raw_dir=_env_path("W2S_RAW_DIR", private / "raw"),
            labeled_dir=_env_path("W2S_LABELED_DIR", private / "labeled_data"),
            label_store_dir=_located("W2S_LABEL_STORE", "label_store", settings, private / "labels"),
            state_dir=_located("W2S_STATE_DIR", "state_dir", settings, private / "state"),
            workspaces_dir=_env_path("W2S_WORKSPACES_DIR", home / "workspaces"),
        )

    def private_dirs(self) -> tuple[Path, ...]:
        """Locations a sandbox must never see."""
        return (self.raw_dir, self.labeled_dir, self.label_store_dir, self.state_dir)


def paths() -> W2SPaths:
    """The locations for the current environment (read afresh each call, so tests can repoint them)."""
    return W2SPaths.from_env()
