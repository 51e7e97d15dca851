"""Content-addressed object storage for snapshot files, and the staging area uploads pass through.

`ObjectStore` is the interface: `exists`, `put` (take a verified local file into the store), `open`, `delete`.
`FileObjectStore` keeps objects at `<root>/objects/ab/cdef...` (sha256 of the content, read-only files).

An S3-compatible store plugs in by implementing the same four methods against boto3 (not a dependency today):
`exists` -> `head_object(Bucket, Key=prefix + digest)` (404 = False), `put` -> `upload_file(source, Bucket, Key)`
unless it exists, then delete `source`, `open` -> `get_object(...)["Body"]` (a readable stream), `delete` ->
`delete_object`. Pass an instance to `SnapshotService(..., store=...)`; staging stays on the local disk.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol, TypeVar, runtime_checkable

_DIGEST = re.compile(r"^[0-9a-f]{64}\Z")
CHUNK = 1024 * 1024
T = TypeVar("T")


class StoreLimitError(ValueError):
    """A staged file grew past what its header or the caps allowed."""


class ServerDiskError(Exception):
    """Writing to the server's own disk (staging or store) failed: the operator's fault, never the agent's.

    Deliberately not an OSError: the code that reads an agent's files and archives treats OSError as a problem of
    the input, and a full disk must not be blamed on the archive.
    """

    def __init__(self, error: OSError, where: Path) -> None:
        super().__init__(f"{where}: {error.strerror or error}")
        self.error, self.where = error, where

    @property
    def disk_full(self) -> bool:
        return self.error.errno in (errno.ENOSPC, errno.EDQUOT)


def _on_disk(where: Path) -> Callable[[Callable[[], T]], T]:
    """Run a write to the server's disk, turning its OSError into ServerDiskError."""

    def run(action: Callable[[], T]) -> T:
        try:
            return action()
        except OSError as exc:
            raise ServerDiskError(exc, where) from exc

    return run


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


@runtime_checkable
class ObjectStore(Protocol):
    """Where snapshot file contents live, keyed by the sha256 hex digest of their bytes."""

    def exists(self, digest: str) -> bool: ...

    def put(self, digest: str, source: Path) -> bool:
        """Store the file at `source` (already hashed to `digest`; consumed); True if it was not stored before."""
        ...

    def open(self, digest: str) -> BinaryIO: ...

    def delete(self, digest: str) -> None: ...


def _check(digest: str) -> str:
    if not _DIGEST.match(digest):
        raise ValueError(f"not a sha256 hex digest: {digest!r}")
    return digest


class FileObjectStore:
    """Objects as files under `<root>/objects/ab/cdef...`; `put` is a rename from the staging area."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "objects").mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        digest = _check(digest)
        return self.root / "objects" / digest[:2] / digest[2:]

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def put(self, digest: str, source: Path) -> bool:
        target = self.path(digest)
        if target.is_file():
            source.unlink(missing_ok=True)
            return False
        disk = _on_disk(target.parent)
        disk(lambda: target.parent.mkdir(parents=True, exist_ok=True))
        disk(lambda: os.chmod(source, 0o444))
        disk(lambda: os.replace(source, target))
        return True

    def open(self, digest: str) -> BinaryIO:
        return self.path(digest).open("rb")

    def delete(self, digest: str) -> None:
        self.path(digest).unlink(missing_ok=True)


@dataclass
class StagedFile:
    path: str
    digest: str
    size: int
    executable: bool
    local: Path


@dataclass
class Staging:
    """A private temporary folder: files are copied and hashed here before anything reaches the store."""

    parent: Path
    files: list[StagedFile] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)
    folder: Path = field(init=False)

    def __post_init__(self) -> None:
        disk = _on_disk(self.parent)
        disk(lambda: self.parent.mkdir(parents=True, exist_ok=True))
        self.folder = Path(disk(lambda: tempfile.mkdtemp(prefix="stage-", dir=self.parent)))

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def add_file(self, path: str, source: BinaryIO, executable: bool, limit: int) -> StagedFile:
        """Copy `source` while hashing it; refuse more than `limit` bytes.

        Reading `source` may fail as the input's fault (OSError); writing the copy fails as ServerDiskError.
        """
        digest, size = hashlib.sha256(), 0
        local = self.folder / f"{len(self.files):08d}"
        disk = _on_disk(self.folder)
        fd = disk(lambda: os.open(local, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        try:
            while chunk := source.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise StoreLimitError(f"{path} is larger than {limit} bytes")
                digest.update(chunk)
                disk(lambda data=chunk: _write_all(fd, data))  # type: ignore[misc]
        finally:
            os.close(fd)
        staged = StagedFile(path, digest.hexdigest(), size, executable, local)
        self.files.append(staged)
        return staged

    def add_dir(self, path: str) -> None:
        self.dirs.append(path)

    def commit(self, store: ObjectStore) -> int:
        """Move every staged file into `store`; answers the bytes that were new there (the rest deduplicated)."""
        new = 0
        for f in self.files:
            if f.local.exists() and store.put(f.digest, f.local):
                new += f.size
        return new

    def cleanup(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
