"""Offline testbeds registered by name; each builds labeled rows in the reference format from packaged corpora."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


_TESTBEDS: dict[str, Testbed] = {}


def register_testbed(testbed: Testbed) -> Testbed:
    if testbed.name in _TESTBEDS:
        raise ValueError(f"testbed {testbed.name!r} is already registered")
    _TESTBEDS[testbed.name] = testbed
    return testbed


def testbeds() -> dict[str, Testbed]:
    from mcp_servers.grader.datasets.testbeds import questions, sentiment  # noqa: F401  (registers them)

    return dict(_TESTBEDS)


def get_testbed(name: str) -> Testbed:
    known = testbeds()
    if name not in known:
        raise KeyError(f"unknown testbed {name!r}; available: {', '.join(sorted(known))}")
    return known[name]


def check_size(size: str) -> None:
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; choose one of {', '.join(SIZES)}")
