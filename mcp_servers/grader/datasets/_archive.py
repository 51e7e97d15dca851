"""Importing a reference `labeled_data.tar.gz`: extracted with path checks into a temporary folder, never in place."""

from __future__ import annotations

import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MAX_ARCHIVE_BYTES = 4 << 30
"""Refuse archives that would unpack to more than this (a tar bomb guard)."""


@contextmanager
def unpacked(archive: Path) -> Iterator[Path]:
    """Yield the `labeled_data` root inside a tar archive, extracted with the `data` filter (no links out, no
    absolute paths, no devices) and a size cap; the temporary copy is removed afterwards."""
    with tarfile.open(archive) as tar, tempfile.TemporaryDirectory(prefix="w2s-import-") as tmp:
        total = 0
        for member in tar.getmembers():
            total += max(member.size, 0)
            if total > MAX_ARCHIVE_BYTES:
                raise ValueError(f"{archive}: unpacks to more than {MAX_ARCHIVE_BYTES} bytes; refusing")
        tar.extractall(tmp, filter="data")
        root = Path(tmp)
        inner = root / "labeled_data"
        yield inner if inner.is_dir() else root
