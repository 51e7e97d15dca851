"""A snapshot against its parent: added, removed, changed files and text diffs from the object store."""

from __future__ import annotations

import pytest

from orchestrator.dashboard._snapshots import read_object, snapshot_diff
from tests.orchestrator.dashboard.dash_helpers import DEnv


def test_diff_to_parent(denv: DEnv) -> None:
    diff = snapshot_diff(denv.sources, denv.ids["snap"])
    assert diff is not None and diff.parent is not None and diff.parent.id == denv.ids["snap_parent"]
    changes = {c.path: c for c in diff.changes}
    assert changes["train.py"].change == "changed"
    assert "-loss = 'xent'\n+loss = 'logconf'\n" in (changes["train.py"].diff or "")
    assert changes["NOTES.md"].change == "added" and "+aux loss weight 0.5" in (changes["NOTES.md"].diff or "")
    assert "train.py" in diff.files


def test_removed_and_binary_files(denv: DEnv) -> None:
    ws = denv.workspace("alice")
    (ws / "NOTES.md").unlink()
    (ws / "weights.bin").write_bytes(b"\0\1\2" * 100)
    sid = denv.snapshots.upload(denv.who("alice"), "drop notes").snapshot_id
    changes = {c.path: c for c in snapshot_diff(denv.sources, sid).changes}  # type: ignore[union-attr]
    assert changes["NOTES.md"].change == "removed" and "-aux loss weight 0.5" in (changes["NOTES.md"].diff or "")
    assert changes["weights.bin"].diff is None and "binary" in (changes["weights.bin"].note or "")
    assert "train.py" not in changes


def test_first_snapshot_has_no_parent(denv: DEnv) -> None:
    diff = snapshot_diff(denv.sources, denv.ids["snap_parent"])
    assert diff is not None and diff.parent is None and [c.change for c in diff.changes] == ["added"]
    assert snapshot_diff(denv.sources, 999) is None


def test_read_object_takes_digests_only(denv: DEnv) -> None:
    assert read_object(denv.sources, "../../grader.db") is None
    assert read_object(denv.sources, None) is None
    digest = "a" * 64 + "\n"  # `$` matched before a final newline: this name was opened
    planted = denv.sources.snapshot_objects / digest[:2] / digest[2:]
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.write_bytes(b"planted")
    assert read_object(denv.sources, digest) is None


def test_huge_change_sets_list_files_past_the_cap_without_diffs(denv: DEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrator.dashboard import _snapshots

    monkeypatch.setattr(_snapshots, "MAX_DIFF_FILES", 2)
    ws = denv.workspace("alice")
    for i in range(4):
        (ws / f"extra{i}.txt").write_text(f"line {i}\n")
    sid = denv.snapshots.upload(denv.who("alice"), "many files").snapshot_id
    changes = snapshot_diff(denv.sources, sid).changes  # type: ignore[union-attr]
    assert len(changes) == 4 and [c.diff is not None for c in changes] == [True, True, False, False]
    assert "more than 2 files" in (changes[-1].note or "")
