"""Preparing a labeled folder or a reference tarball: hidden fields stripped, bad rows and escaping members refused,
stale calibrations dropped; and a dataset brought in by a user (subset `forum_posts`, no id_/ood_ names) through
prepare, manifest, calibrate, one idea on the head tier and a submission the grader scores."""

import io
import json
import tarfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mcp_servers.core import Identity, create_sqlite_engine
from mcp_servers.grader._results import calibrate, gap_verdict, results_table
from mcp_servers.grader._service import Grader, GraderSettings
from mcp_servers.grader.datasets import LabelStore, prepare
from mcp_servers.grader.datasets._archive import unpacked
from mcp_servers.grader.datasets._build import read_manifest
from mcp_servers.grader.datasets._cli import app as data_app
from tests.trainer.trainer_helpers import binary_rows
from trainer import paths
from trainer.data import DatasetFormatError, iter_jsonl
from trainer.ideas import make_config, run_idea

PREF = [
    {"prompt": f"p{i}", "first": f"a{i}", "second": f"b{i}", "label": "AB"[i % 2], "subset": "hs", "difficulty": 1}
    for i in range(6)
]
BIN = [
    {"question": f"q{i // 2}", "choice": str(i), "label": i % 2 == 0, "consistency_id": i // 2,
     "consistency_key": str(i), "subset": "ood_x", "source_model": "m"}
    for i in range(6)
]


def _write(folder: Path, rows: list[dict]) -> None:
    folder.mkdir(parents=True)
    for split in ("train_label", "train_unlabel", "test"):
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_prepare_strips_exactly_the_hidden_fields(tmp_path: Path) -> None:
    _write(tmp_path / "labeled" / "chat", PREF)
    _write(tmp_path / "labeled" / "math", BIN)
    store = LabelStore(tmp_path / "labels")
    done = prepare(tmp_path / "labeled", tmp_path / "data", store)
    assert {d.name: d.task.value for d in done} == {"chat": "preference", "math": "binary"}
    chat_label = list(iter_jsonl(tmp_path / "data/chat/train_label.jsonl"))
    assert [r["label"] for r in chat_label] == [r["label"] for r in PREF]  # weak training keeps its labels
    for split in ("train_unlabel", "test"):
        chat = list(iter_jsonl(tmp_path / f"data/chat/{split}.jsonl"))
        assert all(set(r) == {"id", "prompt", "first", "second"} for r in chat)
        math = list(iter_jsonl(tmp_path / f"data/math/{split}.jsonl"))
        assert all(set(r) == {"id", "question", "choice", "consistency_id", "consistency_key"} for r in math)
        hidden = store.load("math", split)
        assert hidden.ids == [r["id"] for r in math]
        assert hidden.labels == [int(r["label"]) for r in BIN] and set(hidden.subsets) == {"ood_x"}
        assert hidden.groups == [str(r["consistency_id"]) for r in BIN]
    assert store.load("chat", "test").labels == [0, 1, 0, 1, 0, 1]
    assert not any("labels" in str(p) for p in (tmp_path / "data").rglob("*"))


def test_malformed_row_writes_nothing(tmp_path: Path) -> None:
    _write(tmp_path / "labeled" / "good", PREF)
    bad = [*PREF[:3], PREF[3] | {"label": "maybe"}]
    _write(tmp_path / "labeled" / "bad", bad)
    with pytest.raises(DatasetFormatError) as caught:
        prepare(tmp_path / "labeled", tmp_path / "data", LabelStore(tmp_path / "labels"))
    assert "bad/train_label.jsonl:4" in str(caught.value) and caught.value.field == "label"
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())
    assert not (tmp_path / "labels").exists()


def test_a_reference_tarball_imports_unchanged(tmp_path: Path) -> None:
    _write(tmp_path / "src" / "labeled_data" / "chat", PREF)
    archive = tmp_path / "labeled_data.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "src" / "labeled_data", arcname="labeled_data")
    with unpacked(archive) as root:
        done = prepare(root, tmp_path / "data", LabelStore(tmp_path / "labels"))
    assert [d.name for d in done] == ["chat"] and done[0].sizes["test"] == 6


def test_tar_members_escaping_the_folder_are_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("../../escape.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    with pytest.raises(tarfile.TarError), unpacked(archive):
        pass
    assert not (tmp_path.parent / "escape.txt").exists()


def test_changed_labels_drop_a_stale_calibration(tmp_path: Path) -> None:
    _write(tmp_path / "labeled" / "chat", PREF)
    store = LabelStore(tmp_path / "labels")
    prepare(tmp_path / "labeled", tmp_path / "data", store)
    calibration = tmp_path / "labels" / "chat" / "calibration.json"
    calibration.write_text("{}")
    prepare(tmp_path / "labeled", tmp_path / "data", store)  # same rows: the calibration still holds
    assert calibration.is_file()
    (tmp_path / "labeled" / "chat" / "test.jsonl").write_text(
        "".join(json.dumps(r | {"label": "B"}) + "\n" for r in PREF))
    prepare(tmp_path / "labeled", tmp_path / "data", store)
    assert not calibration.exists()


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
def test_forum_posts_dataset_end_to_end(w2s_home: Path, tmp_path: Path) -> None:
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
