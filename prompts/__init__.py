"""Agent prompts shipped as package data: the system prompt, research directions and method families."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.resources import files

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


__all__ = ["Direction", "directions", "method_families", "system_prompt"]
