"""The operator's calibration helpers score through `score` (one rule), import only public trainer modules, and
every command the docs and sources name exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import numpy as np
import typer

from mcp_servers.grader._results import _accuracies
from mcp_servers.grader._scoring import score
from mcp_servers.grader.datasets import HiddenLabels
from trainer.data import TaskType

REPO = Path(__file__).resolve().parents[3]
GRADER = REPO / "mcp_servers" / "grader"


def test_calibration_accuracies_are_the_graders_scores() -> None:
    labels = HiddenLabels(dataset="d", split="test", task=TaskType("binary"), ids=[str(i) for i in range(6)],
                          labels=[1, 0, 1, 0, 1, 1],
                          subsets=["id_a", "id_a", "ood_b", "ood_b", "forum", "forum"])
    preds = np.array([0.5, 0.2, 0.49, 0.7, 1.0, 0.0])  # the exact 0.5 counts as 1, as the grader scores it
    scored = score(preds, labels, None)
    acc = _accuracies(preds, labels)
    assert acc["all"] == scored.overall.accuracy == 0.5
    assert acc["id"] == scored.id.accuracy == 1.0 and acc["ood"] == scored.ood.accuracy == 0.0  # type: ignore[union-attr]
    assert acc["subset:forum"] == 0.5


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    names = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    return names + [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]


def test_the_grader_imports_no_private_trainer_module() -> None:
    for path in GRADER.glob("*.py"):
        private = [m for m in _imports(path) if m.startswith("trainer") and any(p.startswith("_") for p in
                                                                                 m.split("."))]
        assert private == [], f"{path.name} imports {private}"
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):  # nor any private attribute of the Grader from outside it
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "grader":
                assert not node.attr.startswith("_"), f"{path.name} uses grader.{node.attr}"


def _commands(app: typer.Typer) -> set[tuple[str, ...]]:
    group = typer.main.get_command(app)
    found: set[tuple[str, ...]] = set()

    def walk(cmd: Any, prefix: tuple[str, ...]) -> None:  # typer's click may be its own copy: duck-typed
        found.add(prefix)
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                walk(sub, (*prefix, name))

    walk(group, ())
    return found


def test_every_named_command_exists() -> None:
    from mcp_servers.admin import app as admin
    from trainer.cli import app as w2s

    known = {"w2s-admin": _commands(admin), "w2s": _commands(w2s)}
    texts = [*REPO.glob("docs/*.md"), REPO / "README.md", *GRADER.rglob("*.py"), *(REPO / "trainer").rglob("*.py")]
    pattern = re.compile(r"`(w2s-admin|w2s)((?: [a-z][a-z-]*)+)")
    missing = []
    for path in texts:
        for tool, words in pattern.findall(path.read_text()):
            path_, rest = (), words.split()
            while rest and (*path_, rest[0]) in known[tool]:
                path_, rest = (*path_, rest[0]), rest[1:]
            is_group = any(len(c) > len(path_) and c[:len(path_)] == path_ for c in known[tool])
            if not path_ or (rest and is_group):  # words after a command are its arguments; after a group, not
                missing.append(f"{path.relative_to(REPO)}: {tool}{words}")
    assert missing == []
