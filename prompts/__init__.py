"""Agent prompts shipped as package data: the system prompt, research directions and method families."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path

import yaml


@dataclass(frozen=True)
class Direction:
    name: str
    text: str


@cache
def method_families() -> tuple[str, ...]:
    """The eleven families used to tag ideas (self-training, ensemble, ... other)."""
    return tuple(yaml.safe_load(files(__name__).joinpath("method_families.yaml").read_text()))


@cache
def directions() -> tuple[Direction, ...]:
    return tuple(Direction(**d) for d in yaml.safe_load(files(__name__).joinpath("directions.yaml").read_text()))


def system_prompt(workspace: str, data_dir: str, direction: str) -> str:
    """The agent's system prompt with its workspace, data location and research direction filled in."""
    template = files(__name__).joinpath("system_prompt.md").read_text()
    return template.format(workspace=workspace, data_dir=data_dir, direction=direction)


def first_prompt(dataset: str) -> str:
    """The first user message of an agent's first session."""
    return files(__name__).joinpath("first_prompt.md").read_text().format(dataset=dataset)


def resume_prompt(dataset: str, reason: str) -> str:
    """The first user message of a fresh session after one ended early: resume from NOTEBOOK.md and the findings.

    `reason` is shown to the model as data (why the last session ended); braces in it are kept literally."""
    template = files(__name__).joinpath("resume_prompt.md").read_text()
    return template.format(dataset=dataset, reason=reason.replace("{", "(").replace("}", ")")[:300])


def load_directions(path: Path | None = None) -> tuple[Direction, ...]:
    """Directions from `path` (a YAML list of {name, text}) or the shipped ones; a bad file is a clear error."""
    if path is None:
        return directions()
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read directions file {path}: {exc}") from None
    if not isinstance(data, list) or not data or not all(
            isinstance(d, dict) and isinstance(d.get("name"), str) and isinstance(d.get("text"), str) for d in data):
        raise ValueError(f"{path}: expected a non-empty YAML list of {{name: str, text: str}} items")
    return tuple(Direction(name=d["name"], text=d["text"]) for d in data)


__all__ = ["Direction", "directions", "first_prompt", "load_directions", "method_families", "resume_prompt",
           "system_prompt"]
