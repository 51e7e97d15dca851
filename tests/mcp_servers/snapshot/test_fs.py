"""Path checks, ignore rules, the symlink-free walk and descriptor-based writes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mcp_servers.snapshot import IgnoreRules, UnsafePath, clean_relpath
from mcp_servers.snapshot._fs import open_dir, open_file_nofollow, opened_root, scan, write_file


@pytest.mark.parametrize(("raw", "clean"), [("a/b.py", "a/b.py"), ("./a//b/", "a/b"), ("a/./b", "a/b")])
def test_clean_relpath_normalizes(raw: str, clean: str) -> None:
    assert clean_relpath(raw) == clean


@pytest.mark.parametrize("bad", ["/etc/passwd", "../x", "a/../../x", "a/..", "", ".", "a\\..\\b", "C:/x", "a\x00b",
                                 "x/" + "y" * 256])
def test_clean_relpath_refuses(bad: str) -> None:
    with pytest.raises(UnsafePath):
        clean_relpath(bad)


def test_ignore_rules() -> None:
    rules = IgnoreRules(["*.log", "outputs/", "/data/*.bin", "# comment", "checkpoints"])
    assert rules.ignored("a/b/train.log", False)
    assert rules.ignored("x/outputs", True) and not rules.ignored("x/outputs", False)
    assert rules.ignored("data/w.bin", False) and not rules.ignored("other/data/w.bin", False)
    assert rules.ignored("deep/checkpoints", True) and rules.ignored("checkpoints", False)
    assert rules.ignored("src/__pycache__", True) and not rules.ignored("src/main.py", False)
    assert rules.with_file("*.py\n").ignored("src/main.py", False)


def test_scan_skips_links_and_big_files(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f.txt").write_text("x")
    (tmp_path / "big").write_bytes(b"0" * 11)
    (tmp_path / "link").symlink_to("/etc")
    os.mkfifo(tmp_path / "fifo")
    with opened_root(tmp_path) as root:
        entries, skipped = scan(root, IgnoreRules(), max_file_bytes=10)
    assert [(e.path, e.is_dir) for e in entries] == [("a", True), ("a/f.txt", False)]
    assert {s.path for s in skipped} == {"big", "link", "fifo"}


def test_writes_never_follow_symlinks(tmp_path: Path) -> None:
    ws, outside = tmp_path / "ws", tmp_path / "outside"
    ws.mkdir()
    outside.mkdir()
    (outside / "victim").write_text("keep")
    (ws / "out").symlink_to(outside)
    (ws / "victim").symlink_to(outside / "victim")
    with opened_root(ws) as root:
        with pytest.raises(UnsafePath, match="symlink"):
            open_dir(root, "out/sub", create=True)
        write_file(root, "victim", [b"new"], executable=True)  # replaces the link itself
    assert (outside / "victim").read_text() == "keep" and not (outside / "sub").exists()
    assert not (ws / "victim").is_symlink() and (ws / "victim").read_bytes() == b"new"
    assert os.stat(ws / "victim").st_mode & 0o777 == 0o755


def test_reads_refuse_a_fifo_without_blocking(tmp_path: Path) -> None:
    """A FIFO swapped in for a scanned file must not hang the server in open()."""
    os.mkfifo(tmp_path / "train.py")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "link.py").symlink_to(tmp_path / "train.py")
    with opened_root(tmp_path) as root:
        for rel in ("train.py", "d/link.py"):
            with pytest.raises(OSError), open_file_nofollow(root, rel):
                pass
