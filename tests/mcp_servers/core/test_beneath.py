"""open_beneath as an agent would attack it: links at every component, '..', FIFOs, swaps during reads.

Every case runs twice: with openat2 (when the kernel has it) and with the O_NOFOLLOW walk older kernels get.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcp_servers.core import BeneathError, _beneath, open_beneath, read_beneath_bytes, read_beneath_text

SECRET = b"w2s_SECRET_token_of_another_agent\n"


@pytest.fixture(params=["openat2", "walk"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "walk":
        monkeypatch.setattr(_beneath, "_openat2_works", False)
    elif not _beneath.openat2_available():
        pytest.skip("this kernel has no openat2; the walk covers it")
    yield request.param


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    workspace, outside = tmp_path / "ws", tmp_path / "host"
    (workspace / "runs" / "job").mkdir(parents=True)
    outside.mkdir()
    (outside / "tokens.db").write_bytes(SECRET)
    (workspace / "runs" / "job" / "log.txt").write_bytes(b"line 1\nline 2\n")
    return workspace, outside


def test_reads_a_regular_file_and_its_tail(mode: str, tree: tuple[Path, Path]) -> None:
    workspace, _ = tree
    assert read_beneath_bytes(workspace, "runs/job/log.txt") == b"line 1\nline 2\n"
    assert read_beneath_text(workspace, "./runs//job/log.txt", max_bytes=7, from_end=True) == "line 2\n"
    with pytest.raises(BeneathError, match="more than the 4"):
        read_beneath_bytes(workspace, "runs/job/log.txt", max_bytes=4)
    fd = os.open(workspace, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert read_beneath_bytes(fd, "runs/job/log.txt").startswith(b"line 1")  # a root given as an fd
    finally:
        os.close(fd)


@pytest.mark.parametrize(("relpath", "needle"), [
    ("/etc/passwd", "must be relative"), ("../host/tokens.db", "'..'"), ("runs/../../host/tokens.db", "'..'"),
    ("runs/job/\0log.txt", "NUL"), ("", "must be relative"), (".", "names no file"),
    ("runs/job/nothere.txt", "does not exist"), ("runs/job", "is a folder"),
])
def test_refuses_malformed_paths_with_a_clear_error(mode: str, tree: tuple[Path, Path], relpath: str,
                                                   needle: str) -> None:
    with pytest.raises(BeneathError, match=needle):
        read_beneath_bytes(tree[0], relpath)


def test_a_symlink_at_any_component_is_refused(mode: str, tree: tuple[Path, Path]) -> None:
    workspace, outside = tree
    os.symlink(outside / "tokens.db", workspace / "file-link")
    os.symlink(outside, workspace / "dir-link")
    os.symlink("runs/job/log.txt", workspace / "inner-link")  # even a link that stays inside
    (workspace / "runs" / "job" / "log.txt").unlink()
    os.symlink(outside / "tokens.db", workspace / "runs" / "job" / "log.txt")
    for relpath in ("file-link", "dir-link/tokens.db", "inner-link", "runs/job/log.txt"):
        with pytest.raises(BeneathError, match="symbolic link"):
            read_beneath_bytes(workspace, relpath)


def test_a_fifo_or_socket_is_refused_without_blocking(mode: str, tree: tuple[Path, Path]) -> None:
    workspace, _ = tree
    os.mkfifo(workspace / "fifo")
    with pytest.raises(BeneathError, match="not a regular file"):
        read_beneath_bytes(workspace, "fifo")  # a blocking open would hang here forever


def test_directories_open_only_when_asked_and_never_through_links(mode: str, tree: tuple[Path, Path]) -> None:
    workspace, outside = tree
    fd = open_beneath(workspace, "runs/job", os.O_RDONLY | os.O_DIRECTORY)
    os.close(fd)
    os.symlink(outside, workspace / "runs" / "elsewhere")
    with pytest.raises(BeneathError):
        open_beneath(workspace, "runs/elsewhere", os.O_RDONLY | os.O_DIRECTORY)
    with pytest.raises(BeneathError, match="not a folder"):
        open_beneath(workspace, "runs/job/log.txt", os.O_RDONLY | os.O_DIRECTORY)


def test_flipping_a_file_and_a_link_never_yields_the_target(mode: str, tree: tuple[Path, Path]) -> None:
    workspace, outside = tree
    log = workspace / "runs" / "job" / "log.txt"
    stop = threading.Event()

    def flip() -> None:
        link, plain = workspace / "runs" / "job" / ".l", workspace / "runs" / "job" / ".p"
        while not stop.is_set():
            os.symlink(outside / "tokens.db", link)
            os.replace(link, log)
            plain.write_bytes(b"ordinary log\n")
            os.replace(plain, log)

    flipper = threading.Thread(target=flip, daemon=True)
    flipper.start()
    seen = {"ok": 0, "refused": 0}
    try:
        for _ in range(3000):
            try:
                data = read_beneath_bytes(workspace, "runs/job/log.txt")
            except (BeneathError, FileNotFoundError):
                seen["refused"] += 1
                continue
            assert SECRET not in data
            seen["ok"] += 1
    finally:
        stop.set()
        flipper.join()
    assert seen["ok"] and seen["refused"]  # both states were really hit


def test_writes_beneath_create_no_file_through_a_link(mode: str, tree: tuple[Path, Path]) -> None:
    workspace, outside = tree
    os.symlink(outside, workspace / "runs" / "out")
    with pytest.raises(BeneathError):
        open_beneath(workspace, "runs/out/new.txt", os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    assert sorted(p.name for p in outside.iterdir()) == ["tokens.db"]
