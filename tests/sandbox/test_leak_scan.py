"""The scanner on planted leaks (positive controls) and on look-alikes it must not flag."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from sandbox.fingerprint import build
from sandbox.leak_scan import Fingerprint, Scanner, Tokens


@pytest.fixture
def scan(fake_home):
    fp = Fingerprint.load(build(fake_home.paths.label_store_dir, fake_home.paths.data_dir))

    def run(root: Path, tokens: Tokens | None = None) -> list[dict]:
        scanner = Scanner(fp, tokens or Tokens())
        scanner.scan([str(root)])
        return scanner.findings

    return run


def _kinds(findings: list[dict]) -> set[str]:
    return {f["kind"] for f in findings}


def test_finds_every_private_thing_of_a_w2s_home(fake_home, scan) -> None:
    kinds = _kinds(scan(fake_home.paths.home / "private"))
    assert {"label_store", "database", "replica", "raw_corpus"} <= kinds


def test_public_tree_is_clean(fake_home, scan) -> None:
    assert scan(fake_home.paths.data_dir) == []


def test_copies_of_labels_are_found_under_any_name(fake_home, scan, tmp_path: Path) -> None:
    planted = tmp_path / "planted"
    planted.mkdir()
    rows = [{"id": k, "y": bool(v)} for k, v in fake_home.hidden.items()]
    (planted / "cache.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    inverted = [{"idx": k, "pred": "B" if v == 0 else "A"} for k, v in fake_home.hidden.items()]
    (planted / "inverted.json").write_text(json.dumps(inverted))
    # A renamed raw corpus: tab-separated id, signed rating, snippet.
    raw = [f"r{i}\t{'2.1' if v else '-1.5'}\t{fake_home.texts[k]}" for i, (k, v) in enumerate(fake_home.hidden.items())]
    (planted / "notes.txt").write_text("\n".join(raw))
    with sqlite3.connect(planted / "x.bin") as db:
        db.execute("create table t (x)")
    shutil.copytree(fake_home.paths.label_store_dir / "toy", planted / "copy_of_store")
    findings = scan(planted)
    by_path = {(Path(f["path"]).name, f["kind"]) for f in findings}
    assert ("cache.jsonl", "hidden_labels") in by_path
    assert ("inverted.json", "hidden_labels") in by_path
    assert ("notes.txt", "raw_text_labels") in by_path
    assert ("x.bin", "database") in by_path
    assert ("copy_of_store", "label_store") in by_path


def test_weak_labels_are_not_a_leak(fake_home, scan, tmp_path: Path) -> None:
    # 75% agreement, like a weak model's predictions: legitimate, must not be flagged.
    items = list(fake_home.hidden.items())
    rows = [{"id": k, "label": v if i % 4 else 1 - v} for i, (k, v) in enumerate(items)]
    (tmp_path / "weak").mkdir()
    (tmp_path / "weak" / "weak_labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert scan(tmp_path / "weak") == []


def test_foreign_tokens_and_secrets(scan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib

    own, other = "w2s_Own1TokenAbcdefghijklmnopq", "w2s_Oth3rTokenAbcdefghijklmnopq"
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "settings.toml").write_text(f'token = "{other}"\nmine = "{own}"\n')
    (tmp_path / "t" / "code.py").write_text("w2s_lab_settings_module_name = 1\n")
    tokens = Tokens(own={hashlib.sha256(own.encode()).hexdigest()})
    findings = scan(tmp_path / "t", tokens)
    assert [(Path(f["path"]).name, f["kind"]) for f in findings] == [("settings.toml", "foreign_token")]
    assert other not in json.dumps(findings)
    scanner = Scanner(None, tokens)
    scanner.scan_env({"W2S_TOKEN": own, "AWS_SECRET_ACCESS_KEY": "abc", "W2S_GRADER_URL": "http://x"})
    assert [f["path"] for f in scanner.findings] == ["env:AWS_SECRET_ACCESS_KEY"]
