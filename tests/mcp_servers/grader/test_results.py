"""The operator's calibration and results table (on the tiny dataset, with the trainer), the gap verdict; the helpers
score through `score` (one rule), import only public trainer modules, and every command the docs and sources name
exists."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer

from mcp_servers.grader._calibration import Calibration
from mcp_servers.grader._results import (
    CEILING_CACHE,
    _accuracies,
    calibrate,
    format_table,
    format_wide,
    gap_verdict,
    results_table,
)
from mcp_servers.grader._scoring import score
from mcp_servers.grader.datasets import HiddenLabels, LabelStore
from tests.trainer.trainer_helpers import TINY, binary_rows
from trainer.data import TaskType, load_split

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


def _store(home: Path) -> LabelStore:
    store = LabelStore(home / "private" / "labels")
    splits = {}
    for seed, split in ((1, "train_unlabel"), (2, "test")):
        truth = binary_rows(12 if split == "train_unlabel" else 8, seed, split, True)
        assert [r.id for r in truth] == load_split("tiny", split).ids
        splits[split] = [{"id": r.id, "label": int(r.label), "subset": "id_x" if i % 2 else "ood_y"}
                         for i, r in enumerate(truth)]
    store.write("tiny", TaskType.BINARY, splits, source="test")
    return store


def test_calibrate_then_table(tiny_home: Path, tmp_path: Path) -> None:
    store = _store(tiny_home)
    cal = calibrate("tiny", [0, 1], store.root, tmp_path / "cal", **TINY)
    assert cal.seeds == 2 and 0 <= cal.weak_acc <= 1 and cal.weak_sem is not None and set(cal.slices) == {"id", "ood"}
    ids = load_split("tiny", "test").ids
    for seed in (0, 1):
        folder = tmp_path / "runs" / "vanilla_w2s" / "tiny" / f"seed{seed}"
        folder.mkdir(parents=True)
        (folder / "predictions.json").write_text(json.dumps({"dataset": "tiny", "split": "test", "ids": ids,
                                                             "predictions": [0.9] * len(ids)}))
    rows = results_table(tmp_path / "runs", ["tiny"], store.root)
    assert len(rows) == 1 and rows[0]["seeds"] == 2 and rows[0]["transfer"] == 0.5
    assert "| tiny | vanilla_w2s | 2 |" in format_table(rows)
    assert {"id_pgr", "ood_pgr"} <= set(rows[0])  # None where a slice's weak and ceiling tie
    wide = format_wide(rows).splitlines()
    assert wide[0] == "| dataset | weak / ceiling | vanilla_w2s |"
    assert wide[2].startswith(f"| tiny | {cal.weak_acc:.4f} / {cal.strong_acc:.4f} | 0.5000 (")


def test_calibrate_pins_the_weak_side_it_measured(tiny_home: Path, tmp_path: Path) -> None:
    from mcp_servers.grader.datasets._build import read_manifest
    from trainer.ideas import make_config

    store = _store(tiny_home)
    calibrate("tiny", [0], store.root, tmp_path / "cal", **TINY)  # no manifest: nothing to pin, nothing fails
    assert not (tiny_home / "public" / "data" / "tiny" / "manifest.json").exists()
    for folder in (store.root / "tiny", tiny_home / "public" / "data" / "tiny"):
        (folder / "manifest.json").write_text(json.dumps({"dataset": "tiny", "splits": {}}))
    calibrate("tiny", [0], store.root, tmp_path / "nowrite", write=False, **TINY, **{"weak.max_rows": 6})
    assert "weak" not in read_manifest("tiny")  # --no-write changes nothing the grader or agents read
    calibrate("tiny", [0], store.root, tmp_path / "cal", **TINY, **{"weak.max_rows": 6})
    public = json.loads((tiny_home / "public" / "data" / "tiny" / "manifest.json").read_text())
    assert public["weak"] == read_manifest("tiny")["weak"]
    assert public["weak"]["max_rows"] == 6 and public["weak"]["max_steps"] == 1 and "seed" not in public["weak"]
    agent = make_config("vanilla_w2s", dataset="tiny")  # no override: the calibrated weak side
    assert (agent.weak.max_rows, agent.weak.tier, agent.weak.max_steps) == (6, "full", 1)


def test_calibrate_reuses_ceilings_trained_with_the_same_overrides(
    tiny_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import trainer.ideas as common  # calibrate calls the public trainer.ideas.fit_and_predict

    store = _store(tiny_home)
    trained: list[int] = []
    real = common.fit_and_predict

    def counting(ctx, rows, labels, config=None, name="strong"):  # type: ignore[no-untyped-def]
        trained.append(config.seed)
        return real(ctx, rows, labels, config, name)

    monkeypatch.setattr(common, "fit_and_predict", counting)
    first = calibrate("tiny", [0], store.root, tmp_path / "cal", **TINY)
    again = calibrate("tiny", [0, 1], store.root, tmp_path / "cal", **TINY)
    assert trained == [0, 1] and again.seeds == 2
    assert again.strong_acc == pytest.approx((first.strong_acc + _seed_acc(tmp_path, store, 1)) / 2)
    calibrate("tiny", [0], store.root, tmp_path / "cal", fresh=True, **TINY)
    assert trained == [0, 1, 0]


def _seed_acc(tmp_path: Path, store: LabelStore, seed: int) -> float:
    payload = json.loads((tmp_path / "cal" / "tiny" / f"seed{seed}" / CEILING_CACHE).read_text())
    truth = np.asarray(store.load("tiny", "test").labels)
    return float(((np.asarray(payload["predictions"]) >= 0.5) == truth).mean())


def test_gap_verdict_says_when_pgr_is_noise() -> None:
    wide = Calibration(weak_acc=0.70, strong_acc=0.85, weak_sem=0.01, strong_sem=0.01, seeds=5, source="t")
    narrow = wide.model_copy(update={"weak_acc": 0.84})
    noisy = wide.model_copy(update={"weak_acc": 0.80, "weak_sem": 0.02, "strong_sem": 0.02})
    inverted = wide.model_copy(update={"weak_acc": 0.90})
    assert gap_verdict(wide) is None
    assert "mostly noise" in (gap_verdict(narrow) or "") and "1.0 points" in (gap_verdict(narrow) or "")
    assert "mostly noise" in (gap_verdict(noisy) or "")
    assert "undefined" in (gap_verdict(inverted) or "")
