"""Offline testbeds registered by name; each builds labeled rows in the reference format from packaged corpora."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainer.registry import Registry

SplitRows = dict[str, list[dict[str, Any]]]
"""`{train_label, train_unlabel, test}` -> labeled rows (with `label` and `subset`)."""

SIZES: tuple[str, ...] = ("tiny", "small", "default", "large")
"""`tiny` for tests, `small` for a quick look, `default` for a vanilla run in a few CPU minutes, `large` for more."""


@dataclass(frozen=True)
class Testbed:
    name: str
    description: str
    build: Callable[[str, int, Path | None], SplitRows]
    """(size, seed, raw_dir) -> labeled splits; the same arguments always give the same rows."""
    weak: dict[str, Any] = field(default_factory=dict)
    """Weak TrainConfig fields the hard regime runs this testbed with, pinned in its manifest at build (calibration
    can re-pin): e.g. fewer weak rows where the weak head is otherwise within a few points of the ceiling."""


TESTBEDS: Registry[Testbed] = Registry("testbed", package="mcp_servers.grader.datasets.testbeds")
"""One testbed per public module of this package; importing it registers it (no list to edit)."""


def register_testbed(testbed: Testbed) -> Testbed:
    return TESTBEDS.add(testbed.name, testbed)


def testbeds() -> dict[str, Testbed]:
    return TESTBEDS.as_dict()


def get_testbed(name: str) -> Testbed:
    """The testbed called `name`; an unknown name raises UnknownNameError (a KeyError) listing the others."""
    return TESTBEDS.get(name)


def check_size(size: str) -> None:
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; choose one of {', '.join(SIZES)}")
