"""An agent pod's workspace brought back to the host as data: a tar stream extracted beneath the workspace, then
leak-scanned.

The stream comes from inside the agent's pod (`kubectl exec` in its read-only collect container), so every byte of
it, names included, is the agent's. Extraction follows the rules of the snapshot server's archive code
(mcp_servers/snapshot/_tarsafe.py) and of every host-side reader (`open_beneath`):

- one pass over the stream, nothing seeked or buffered whole, no member kept after it is written; caps on members,
  one file's size and the total, and on the headers tarfile reads whole into memory (a PAX or GNU long-name header,
  at most a few chained before a member); sizes below zero, sparse members and global PAX headers (the collect
  program writes none) are refused;
- names must be relative, without `..` or NUL, at most 64 levels deep; the archive's own root (`.`) is skipped;
- links (symbolic and hard) are never created, devices/FIFOs/sockets never either: each is listed as skipped;
- every folder is opened from its parent's fd with O_NOFOLLOW|O_DIRECTORY (created when missing), so a link already
  in the host workspace is refused, never followed; every file is written to a fresh O_EXCL name in its folder and
  renamed over the target (a rename replaces a link, it never writes through one);
- modes are the host's: 0644, or 0755 when the member was executable; owners, setuid bits and times are dropped.

Then `scan_results` runs the leak scanner (sandbox.leak_scan) over the workspace as it now is on the host: the
agent's own token is allowed, anything else it reports is a finding.
"""

from __future__ import annotations

import errno
import hashlib
import os
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sandbox._spec import INSIDE_WORKSPACE, SandboxSpec

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
MAX_DEPTH = 64
NAME_MAX = 255
"""Bytes of one path component on Linux file systems (a longer one would fail as ENAMETOOLONG, its name in full)."""
MAX_CHAINED_HEADERS = 4
"""Extended headers before one member (PAX, GNU long name and long link): tarfile recurses once per header."""
MAX_SKIPPED_LISTED = 200
_HEADER_TYPES = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE,
                 tarfile.SOLARIS_XHDTYPE)


class ResultsRefused(ValueError):
    """The stream broke a rule or a cap; what was extracted before it stays, the message says where it stopped."""


@dataclass(frozen=True)
class ResultLimits:
    max_members: int = 500_000
    max_file_bytes: int = 16 << 30
    max_total_bytes: int = 200 << 30
    max_header_bytes: int = 1 << 20
    """One PAX or GNU long-name header (tarfile reads it whole): a name 64 levels of 255 bytes is 16 KiB."""


@dataclass
class Collected:
    files: int = 0
    dirs: int = 0
    bytes: int = 0
    skipped: list[str] = field(default_factory=list)
    """The first MAX_SKIPPED_LISTED members not created (a stream of links must not grow the host's memory)."""
    more_skipped: int = 0
    scan: dict[str, Any] | None = None
    shared: bool = False
    """Nothing was copied: the workspace is on storage the host mounts (results=shared)."""

    def summary(self) -> str:
        text = "workspace on shared storage" if self.shared else \
            f"{self.files} files, {self.dirs} folders, {self.bytes} bytes back"
        if self.skipped:
            text += f"; {len(self.skipped) + self.more_skipped} skipped (links, special files)"
        if self.scan is not None:
            found = self.scan.get("findings", [])
            text += "; leak scan clean" if not found else f"; LEAK SCAN: {len(found)} finding(s) " + ", ".join(
                sorted({f["kind"] for f in found}))
        return text


    def skip(self, shown: str, why: str) -> None:
        if len(self.skipped) < MAX_SKIPPED_LISTED:
            self.skipped.append(f"{shown}: {why}")
        else:
            self.more_skipped += 1


def printable(text: str, limit: int = 300) -> str:
    """An agent's name as the operator may see it: control characters (terminal escapes, newlines) written as
    escapes, cut at `limit`."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[:limit])


def _checked_info(limits: ResultLimits) -> type[tarfile.TarInfo]:
    """A TarInfo refusing, before tarfile reads them, the headers that would make the host buffer or recurse on
    the agent's word (tarfile's documented extension point: the `tarinfo` class and its `_proc_*` methods)."""

    class Checked(tarfile.TarInfo):
        def _proc_member(self, tar: tarfile.TarFile) -> tarfile.TarInfo:  # type: ignore[override]
            if self.type not in _HEADER_TYPES:
                tar._w2s_chained = 0  # type: ignore[attr-defined]
                if self.type == tarfile.GNUTYPE_SPARSE:
                    raise ResultsRefused(f"member {printable(self.name)!r} is sparse (not written by the collect "
                                         "program; its holes would be written out in full)")
                return super()._proc_member(tar)  # type: ignore[misc]
            chained = getattr(tar, "_w2s_chained", 0) + 1
            tar._w2s_chained = chained  # type: ignore[attr-defined]
            if self.type == tarfile.XGLTYPE:
                raise ResultsRefused("a global PAX header (not written by the collect program)")
            if self.size < 0 or self.size > limits.max_header_bytes:
                raise ResultsRefused(f"an extended header of {self.size} bytes (at most {limits.max_header_bytes})")
            if chained > MAX_CHAINED_HEADERS:
                raise ResultsRefused(f"more than {MAX_CHAINED_HEADERS} extended headers before one member")
            return super()._proc_member(tar)  # type: ignore[misc]

        def _sparse(self, *args: Any) -> tarfile.TarInfo:
            raise ResultsRefused("a PAX sparse member (not written by the collect program)")

        _proc_gnusparse_00 = _proc_gnusparse_01 = _proc_gnusparse_10 = _sparse

    return Checked


def clean_name(raw: str) -> list[str]:
    """The components of a member name, refused when it is absolute, climbs, carries NUL or is too long."""
    if "\0" in raw or raw.startswith("/"):
        raise ResultsRefused(f"member name {printable(raw, 200)!r} is absolute or carries NUL")
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ResultsRefused(f"member name {printable(raw, 200)!r} climbs out with '..'")
    if len(parts) > MAX_DEPTH:
        raise ResultsRefused(f"member name {printable(raw, 200)!r} is deeper than {MAX_DEPTH} levels")
    if any(len(os.fsencode(p)) > NAME_MAX for p in parts):
        raise ResultsRefused(f"member name {printable(raw, 200)!r} has a part over {NAME_MAX} bytes")
    return parts


def _open_dir(parent_fd: int, name: str, create: bool) -> int:
    try:
        return os.open(name, DIR_FLAGS, dir_fd=parent_fd)
    except FileNotFoundError:
        if not create:
            raise
    try:
        os.mkdir(name, 0o755, dir_fd=parent_fd)
    except FileExistsError:
        pass  # created meanwhile: the open below still refuses anything but a real folder
    return os.open(name, DIR_FLAGS, dir_fd=parent_fd)


def _folder(root_fd: int, parts: list[str]) -> int:
    """An fd of the folder `parts` below root, created as needed, no link followed; the caller closes it."""
    fd = os.dup(root_fd)
    try:
        for part in parts:
            child = _open_dir(fd, part, create=True)
            os.close(fd)
            fd = child
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise ResultsRefused(f"{printable('/'.join(parts))!r} is a link or a file on the host: not written "
                                 "through") from None
        raise
    return fd


def _write(dir_fd: int, name: str, source: IO[bytes], size: int, executable: bool) -> None:
    temp = f".w2s-incoming-{os.getpid()}-{os.urandom(4).hex()}"
    fd = os.open(temp, NEW_FILE_FLAGS, 0o755 if executable else 0o644, dir_fd=dir_fd)
    try:
        with os.fdopen(fd, "wb", closefd=True) as out:
            left = size
            while left > 0:
                chunk = source.read(min(left, 1 << 20))
                if not chunk:
                    raise ResultsRefused(f"{printable(name)!r}: the stream ended inside the file")
                out.write(chunk)
                left -= len(chunk)
        os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        try:
            os.unlink(temp, dir_fd=dir_fd)
        except OSError:
            pass
        raise


def extract_beneath(stream: IO[bytes], workspace: Path, limits: ResultLimits | None = None) -> Collected:
    """Extract the uncompressed tar `stream` beneath `workspace` (an operator-chosen folder) by the rules above."""
    limits = limits or ResultLimits()
    done = Collected()
    root_fd = os.open(workspace, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    members = 0
    try:
        with tarfile.open(fileobj=stream, mode="r|", tarinfo=_checked_info(limits)) as tar:
            while (member := tar.next()) is not None:
                tar.members.clear()  # tarfile keeps every member read, even streaming: the host's memory grew
                members += 1
                if members > limits.max_members:
                    raise ResultsRefused(f"more than {limits.max_members} members")
                parts = clean_name(member.name)
                if not parts:
                    continue
                shown = printable("/".join(parts))
                if member.issym() or member.islnk():
                    done.skip(shown, "link (not created)")
                    continue
                if not (member.isfile() or member.isdir()):
                    done.skip(shown, "special file (not created)")
                    continue
                if member.isdir():
                    os.close(_folder(root_fd, parts))
                    done.dirs += 1
                    continue
                if member.size < 0:
                    raise ResultsRefused(f"{shown!r} declares {member.size} bytes")
                if member.size > limits.max_file_bytes:
                    raise ResultsRefused(f"{shown!r} is over {limits.max_file_bytes} bytes")
                if done.bytes + member.size > limits.max_total_bytes:
                    raise ResultsRefused(f"the results are over {limits.max_total_bytes} bytes")
                source = tar.extractfile(member)
                assert source is not None
                folder = _folder(root_fd, parts[:-1])
                try:
                    _write(folder, parts[-1], source, member.size, bool(member.mode & 0o100))
                except IsADirectoryError:
                    done.skip(shown, "a folder on the host (not replaced)")
                    continue
                finally:
                    os.close(folder)
                done.files += 1
                done.bytes += member.size
    except (ResultsRefused, OSError):
        raise
    except Exception as exc:  # noqa: BLE001 - tarfile raises more than TarError on a crafted header (ValueError,
        # RecursionError...): every one is the stream's fault, and the caller must still scan and clean up
        raise ResultsRefused(f"not a readable tar stream after {members} members ({printable(str(exc))})") from None
    finally:
        os.close(root_fd)
    return done


def scan_results(spec: SandboxSpec, fingerprint: Any = None) -> dict[str, Any]:
    """The leak scan over the agent's workspace on the host (what came back), its own token and key allowed."""
    from sandbox._view import private_prefixes
    from sandbox.leak_scan import Root, Scanner, Tokens

    own = {hashlib.sha256(v.encode()).hexdigest() for v in (spec.token, spec.api_key) if v}
    scanner = Scanner(fingerprint, Tokens(own=own), private=private_prefixes(spec))
    scanner.scan([Root(str(spec.workspace), str(INSIDE_WORKSPACE))])
    return scanner.result([str(INSIDE_WORKSPACE)], 0.0)


def operator_fingerprint() -> Any:
    """The hidden labels' salted hashes when this host holds the label store (the trusted host), else None."""
    from sandbox._detect import Fingerprint
    from sandbox.fingerprint import build
    from trainer import paths

    p = paths()
    if not p.label_store_dir.is_dir():
        return None
    return Fingerprint.load(build(p.label_store_dir, p.data_dir))
