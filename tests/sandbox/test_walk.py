"""The walk over an agent's tree survives what an agent can plant there, and never follows a link out."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from sandbox._walk import Entry, Folder, read_at, walk
from sandbox.leak_scan import Scanner


def _odd_tree(root: Path) -> list[socket.socket]:
    root.mkdir()
    os.mkfifo(root / "fifo")  # opening it for reading without O_NONBLOCK would hang the scan forever
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(root / "sock"))
    sparse = root / "huge.jsonl"
    with sparse.open("wb") as handle:
        handle.truncate(20 * 1024**3)  # 20 GiB of holes: must be read up to the limit, not to the end
    (root / "binary.bin").write_bytes(bytes(range(256)) * 64)
    (root / "latin.txt").write_bytes(b"caf\xe9 \xff\xfe invalid utf-8 \x80\x81\n" * 10)
    (root / "secret.txt").write_text("x")
    (root / "secret.txt").chmod(0)
    (root / "dangling").symlink_to(root / "nothing-here")
    (root / "loop").symlink_to(root / "loop")
    (root / "to-root").symlink_to("/")
    deep = root
    for _ in range(300):
        deep = deep / "d"
    deep.mkdir(parents=True)
    (deep / "bottom.txt").write_text("w2s_Hidden9TokenAbcdefghijklmnop")
    return [server]


def test_scanner_survives_odd_files_and_never_follows_links(tmp_path: Path) -> None:
    keep = _odd_tree(tmp_path / "odd")
    scanner = Scanner(max_bytes=1024 * 1024)
    scanner.scan([str(tmp_path / "odd")])
    for sock in keep:
        sock.close()
    assert scanner.stats["special"] == 2  # fifo and socket: seen, not read
    assert scanner.stats["links"] == 3 and scanner.stats["files"] < 50  # `to-root` was not walked into
    assert scanner.stats["bytes_read"] < 4 * 1024 * 1024
    assert any("huge.jsonl: only the first" in p for p in scanner.partial)
    assert any("deeper than" in p for p in scanner.partial)  # reported as not scanned, not silently skipped


def test_walk_reports_links_as_links(tmp_path: Path) -> None:
    (tmp_path / "inside").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "private.txt").write_text("private")
    (tmp_path / "inside" / "link").symlink_to(tmp_path / "outside")
    (tmp_path / "inside" / "file-link").symlink_to(tmp_path / "outside" / "private.txt")
    items = list(walk(str(tmp_path / "inside"), "/w2s/workspace", max_depth=8))
    folders = [i.path for i in items if isinstance(i, Folder)]
    entries = {i.path: i for i in items if isinstance(i, Entry)}
    assert folders == ["/w2s/workspace"]  # the linked folder is an entry, never a folder walked into
    assert set(entries) == {"/w2s/workspace/link", "/w2s/workspace/file-link"}


def test_read_at_refuses_links_and_fifos(tmp_path: Path) -> None:
    (tmp_path / "real.txt").write_text("data")
    (tmp_path / "link.txt").symlink_to(tmp_path / "real.txt")
    os.mkfifo(tmp_path / "fifo")
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert read_at(fd, "real.txt", 100) == (b"data", False)
        assert read_at(fd, "real.txt", 2) == (b"da", True)
        assert read_at(fd, "fifo", 100) == (b"", False)
        try:
            read_at(fd, "link.txt", 100)
            raise AssertionError("a symlink was opened")
        except OSError as exc:
            assert exc.errno == 40  # ELOOP: O_NOFOLLOW
    finally:
        os.close(fd)
