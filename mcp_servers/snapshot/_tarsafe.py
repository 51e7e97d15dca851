"""Inline snapshots: a base64 tar.gz read member by member into the staging area, refusing anything unsafe.

Refused (the whole upload, nothing stored): absolute paths, '..', links pointing outside the archive, devices,
FIFOs and other special members, duplicate or conflicting paths, more members than `max_files`, a member over
`max_file_bytes`, more than `max_total_bytes` of content, more decompressed bytes than the caps allow (a gzip
bomb stops there), and payloads over `max_archive_bytes`. Links that stay inside are skipped (never stored).
"""

from __future__ import annotations

import base64
import binascii
import gzip
import io
import posixpath
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import BinaryIO

from mcp_servers.snapshot._fs import IgnoreRules, Skipped, UnsafePath, clean_relpath
from mcp_servers.snapshot._secrets import secret_reason
from mcp_servers.snapshot._store import Staging, StoreLimitError


class ArchiveRefused(ValueError):
    """The archive is unsafe or over a cap."""


@dataclass(frozen=True)
class ArchiveLimits:
    max_archive_bytes: int
    max_files: int
    max_file_bytes: int
    max_total_bytes: int


class _CappedReader(io.RawIOBase):
    """Decompressed bytes, refused past `cap` (bounds what tar headers and padding can make us read)."""

    def __init__(self, source: BinaryIO, cap: int) -> None:
        self.source, self.cap, self.seen = source, cap, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.source.read(len(buffer))
        self.seen += len(data)
        if self.seen > self.cap:
            raise ArchiveRefused(f"the archive decompresses to more than {self.cap} bytes (tar bomb)")
        buffer[:len(data)] = data
        return len(data)


def decode_b64(data: str, limit: int) -> bytes:
    """Standard base64, line-wrapped or not (`base64` wraps at 76 columns by default)."""
    data = "".join(data.split())
    if len(data) > (limit + 2) // 3 * 4 + 4:
        raise ArchiveRefused(f"archive over {limit} bytes", )
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ArchiveRefused("archive_b64 is not valid base64") from None
    if len(raw) > limit:
        raise ArchiveRefused(f"archive over {limit} bytes")
    return raw


def _link_escapes(name: str, member: tarfile.TarInfo) -> bool:
    target = member.linkname
    if not target or target.startswith("/"):
        return True
    joined = target if member.islnk() else posixpath.join(posixpath.dirname(name), target)
    return posixpath.normpath(joined).split("/")[0] == ".."


def stage_archive(raw: bytes, staging: Staging, limits: ArchiveLimits, rules: IgnoreRules) -> list[Skipped]:
    """Validate and stage every member of the tar.gz `raw`; answers what was skipped."""
    cap = limits.max_total_bytes + 512 * (2 * limits.max_files + 64) + 10 * 1024 * 1024
    stream = _CappedReader(gzip.GzipFile(fileobj=io.BytesIO(raw)), cap)
    skipped: list[Skipped] = []
    seen_files: set[str] = set()
    seen_dirs: set[str] = set()
    members = 0
    try:
        with tarfile.open(fileobj=io.BufferedReader(stream), mode="r|") as tar:
            for member in tar:
                members += 1
                if members > limits.max_files:
                    raise ArchiveRefused(f"more than {limits.max_files} members (tar bomb)")
                if member.isdir() and set(member.name.split("/")) <= {"", "."}:
                    continue  # the archive's own root (`tar czf - -C dir .` writes "./")
                try:
                    name = clean_relpath(member.name, "member")
                except UnsafePath as exc:
                    raise ArchiveRefused(str(exc)) from None
                if member.issym() or member.islnk():
                    if _link_escapes(name, member):
                        raise ArchiveRefused(f"link {name!r} -> {member.linkname!r} points outside the archive")
                    skipped.append(Skipped(name, "link (not stored)"))
                    continue
                if not (member.isfile() or member.isdir()):
                    raise ArchiveRefused(f"member {name!r} is a device, FIFO or other special file")
                parents = {"/".join(name.split("/")[:i]) for i in range(1, name.count("/") + 1)}
                if name in seen_files or (member.isfile() and name in seen_dirs) or parents & seen_files:
                    raise ArchiveRefused(f"member {name!r} is duplicated or conflicts with another member")
                secret = secret_reason(name, member.isdir())
                if secret:
                    skipped.append(Skipped(name, secret))
                    continue
                if any(rules.ignored(p, True) for p in parents) or rules.ignored(name, member.isdir()):
                    skipped.append(Skipped(name, "cache or ignored"))
                    continue
                seen_dirs |= parents
                if member.isdir():
                    seen_dirs.add(name)
                    staging.add_dir(name)
                    continue
                if member.size > limits.max_file_bytes:
                    raise ArchiveRefused(f"member {name!r} is over {limits.max_file_bytes} bytes")
                if staging.total_bytes + member.size > limits.max_total_bytes:
                    raise ArchiveRefused(f"the archive holds more than {limits.max_total_bytes} bytes (tar bomb)")
                source = tar.extractfile(member)
                assert source is not None
                seen_files.add(name)
                staging.add_file(name, source, bool(member.mode & 0o111), member.size)
    except (tarfile.TarError, EOFError, OSError, StoreLimitError) as exc:
        raise ArchiveRefused(f"not a readable tar.gz archive ({exc})") from None
    return skipped


def build_archive(files: Iterable[tuple[str, int, bool, Callable[[], BinaryIO]]], dirs: Iterable[str]) -> bytes:
    """A tar.gz of `dirs` and `files` (path, size, executable, opener) with fixed owners and times."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for path in dirs:
            info = tarfile.TarInfo(path)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for path, size, executable, opener in files:
            info = tarfile.TarInfo(path)
            info.size, info.mode = size, 0o755 if executable else 0o644
            with opener() as source:
                tar.addfile(info, source)
    return out.getvalue()
