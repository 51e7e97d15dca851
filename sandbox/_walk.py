"""Walk a tree an agent controls without ever following its links: directory fds, O_NOFOLLOW, one open per file.

An agent may plant symlinks, FIFOs, sockets, huge or sparse files and very deep trees, and may swap any of them
while the walk runs. Every directory is opened relative to its parent's fd with O_NOFOLLOW|O_DIRECTORY, every file
with O_NOFOLLOW|O_NONBLOCK (a FIFO never blocks) and checked with fstat on the fd that is then read; nothing is
imported or executed. At most one fd per level is open (recursion, not a queue of open folders).
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
MAGIC = {b"\x1f\x8b": gzip.open, b"BZh": bz2.open, b"\xfd7zXZ\x00": lzma.open}


@dataclass
class Entry:
    path: str
    """as reported (the inside path when the walk maps a host root onto one)"""
    host: str
    name: str
    dir_fd: int
    info: os.stat_result
    """lstat of the entry: a link is a link, never its target"""


@dataclass
class Folder:
    path: str
    host: str
    fd: int
    names: set[str]


def walk(top: str, shown: str, *, max_depth: int, skip: frozenset[str] = frozenset(),
         problems: list[str] | None = None) -> Iterator[Folder | Entry]:
    """Folders (before their entries) and entries below `top`; `top` itself is the operator's path and may be a
    link, nothing below it is followed. Unreadable folders and levels past `max_depth` land in `problems`."""
    problems = problems if problems is not None else []
    try:
        fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        problems.append(f"{shown}: {exc.strerror}")
        return
    try:
        yield from _walk_fd(fd, top, shown, 0, max_depth, skip, problems)
    finally:
        os.close(fd)


def _walk_fd(fd: int, host: str, shown: str, depth: int, max_depth: int, skip: frozenset[str],
             problems: list[str]) -> Iterator[Folder | Entry]:
    try:
        entries = sorted(os.scandir(fd), key=lambda e: e.name)
    except OSError as exc:
        problems.append(f"{shown}: {exc.strerror}")
        return
    yield Folder(shown, host, fd, {e.name for e in entries})
    for entry in entries:
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue  # gone since the listing
        child_host, child_shown = os.path.join(host, entry.name), os.path.join(shown, entry.name)
        if child_host in skip:
            continue
        yield Entry(child_shown, child_host, entry.name, fd, info)
        if not stat.S_ISDIR(info.st_mode):
            continue
        if depth + 1 > max_depth:
            problems.append(f"{child_shown}: deeper than {max_depth} levels, not walked")
            continue
        try:
            child = os.open(entry.name, DIR_FLAGS, dir_fd=fd)
        except OSError as exc:  # replaced by a link or a file meanwhile, or unreadable
            problems.append(f"{child_shown}: {exc.strerror}")
            continue
        try:
            yield from _walk_fd(child, child_host, child_shown, depth + 1, max_depth, skip, problems)
        finally:
            os.close(child)


def read_at(dir_fd: int, name: str, limit: int, *, decompress: bool = False) -> tuple[bytes, bool]:
    """(up to `limit` bytes, whether more was left) of a regular file, opened once without following links.

    Compressed files (gzip, bz2, xz by their magic, whatever their name) are decompressed when asked, still at
    most `limit` bytes out. Not a regular file (FIFO, socket, device, a link swapped in): b"".
    """
    fd = os.open(name, FILE_FLAGS, dir_fd=dir_fd)
    with os.fdopen(fd, "rb", buffering=0) as raw:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return b"", False
        head = raw.read(8)
        opener = next((o for magic, o in MAGIC.items() if head.startswith(magic)), None) if decompress else None
        if opener is None:
            data = head + _read_upto(raw, limit + 1 - len(head))
        else:
            raw.seek(0)
            try:
                with opener(raw) as unpacked:  # type: ignore[operator]
                    data = unpacked.read(limit + 1)
            except (OSError, EOFError, lzma.LZMAError, ValueError):
                raw.seek(0)
                data = _read_upto(raw, limit + 1)
    return data[:limit], len(data) > limit


def _read_upto(raw: io.RawIOBase, limit: int) -> bytes:
    chunks, left = [], limit
    while left > 0:
        chunk = raw.read(min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def unpack(data: bytes, limit: int) -> bytes:
    """`data` decompressed when it starts with a gzip/bz2/xz magic (at most `limit` bytes out), else as is."""
    opener = next((o for magic, o in MAGIC.items() if data.startswith(magic)), None)
    if opener is None:
        return data
    try:
        with opener(io.BytesIO(data)) as unpacked:  # type: ignore[operator]
            return bytes(unpacked.read(limit))
    except (OSError, EOFError, lzma.LZMAError, ValueError):
        return data
