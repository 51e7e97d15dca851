import io
import json
import tarfile
from pathlib import Path

import pytest

from mcp_servers.grader.datasets import LabelStore, prepare
from mcp_servers.grader.datasets._archive import unpacked
from trainer.data import DatasetFormatError, iter_jsonl

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
