"""A dataset brought in by a user (subset `forum_posts`, no id_/ood_ names): prepare, manifest, calibrate, one idea
on each student tier it takes, and a submission the grader scores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from trainer_helpers import binary_rows
from typer.testing import CliRunner

from mcp_servers.core import Identity, create_sqlite_engine
from mcp_servers.grader._results import calibrate, gap_verdict, results_table
from mcp_servers.grader._service import Grader, GraderSettings
from mcp_servers.grader.datasets import LabelStore
from mcp_servers.grader.datasets._build import read_manifest
from mcp_servers.grader.datasets._cli import app as data_app
from mcp_servers.grader.datasets._prepare import prepare
from trainer import paths
from trainer.ideas import make_config, run_idea

HEAD = {"weak.model": "minilm-l6", "weak.tier": "head", "weak.max_length": 64, "weak.fast_epochs": 2,
        "weak.progress": False, "strong.model": "minilm-l6", "strong.tier": "head", "strong.max_length": 64,
        "strong.fast_epochs": 2, "strong.progress": False}


def _labeled_folder(root: Path) -> Path:
    folder = root / "labeled_data" / "forum"
    folder.mkdir(parents=True)
    for seed, (split, n) in enumerate((("train_label", 10), ("train_unlabel", 12), ("test", 8))):
        with (folder / f"{split}.jsonl").open("w") as handle:
            for row in binary_rows(n, 10 + seed, split, labeled=True):
                record = row.model_dump(exclude_none=True, exclude={"id"}) | {"subset": "forum_posts"}
                handle.write(json.dumps(record) + "\n")
    return folder.parent


@pytest.mark.slow
def test_forum_posts_dataset_end_to_end(tiny_home: Path, tmp_path: Path) -> None:
    where = paths()
    store = LabelStore(where.label_store_dir)
    (done,) = prepare(_labeled_folder(tmp_path), where.data_dir, store)
    assert done.name == "forum"

    manifest = read_manifest("forum")
    assert manifest["splits"]["test"]["balance"]["forum_posts"]["rows"] == 16
    printed = CliRunner().invoke(data_app, ["manifest", "forum"])
    assert printed.exit_code == 0, printed.output
    assert "forum_posts" in printed.output and "prepared from" in printed.output
    public = json.loads((where.data_dir / "forum" / "manifest.json").read_text())
    assert "balance" not in public["splits"]["test"]  # hidden splits' class balance stays in the label store

    lines: list[str] = []
    cal = calibrate("forum", [0, 1], store.root, tmp_path / "cal", report=lines.append, **HEAD)
    assert cal.seeds == 2 and cal.slices == {}  # no id_/ood_ subsets: overall only, nothing breaks
    assert any("forum_posts" in line for line in lines) and any("seed 1 (2/2)" in line for line in lines)
    assert any("s left" in line for line in lines if line.startswith("seed 0 (1/2): ceiling test"))
    assert (tmp_path / "cal" / "forum" / "calibration.json").is_file()
    assert cal.gap_warning == gap_verdict(cal)

    out = tmp_path / "runs" / "vanilla_w2s" / "forum" / "seed0"
    result = run_idea("vanilla_w2s", make_config("vanilla_w2s", dataset="forum", seed=0, **HEAD), out, progress=False)
    payload = json.loads((out / "predictions.json").read_text())
    grader = Grader(GraderSettings(label_store=store.root), create_sqlite_engine(tmp_path / "grader.db"))
    scored = grader.submit(Identity("alice", frozenset({"grader"})), "forum", payload["predictions"], idea="vanilla_w2s")
    assert scored.submission_id >= 1 and scored.overall is not None
    assert len(result.ids) == 16
    rows = results_table(tmp_path / "runs", ["forum"], store.root, calibration_dir=tmp_path / "cal")
    assert rows[0]["idea"] == "vanilla_w2s" and rows[0]["seeds"] == 1 and rows[0]["weak"] == cal.weak_acc


def test_gap_verdict_says_when_pgr_is_noise() -> None:
    from mcp_servers.grader._calibration import Calibration

    wide = Calibration(weak_acc=0.70, strong_acc=0.85, weak_sem=0.01, strong_sem=0.01, seeds=5, source="t")
    narrow = wide.model_copy(update={"weak_acc": 0.84})
    noisy = wide.model_copy(update={"weak_acc": 0.80, "weak_sem": 0.02, "strong_sem": 0.02})
    inverted = wide.model_copy(update={"weak_acc": 0.90})
    assert gap_verdict(wide) is None
    assert "mostly noise" in (gap_verdict(narrow) or "") and "1.0 points" in (gap_verdict(narrow) or "")
    assert "mostly noise" in (gap_verdict(noisy) or "")
    assert "undefined" in (gap_verdict(inverted) or "")
