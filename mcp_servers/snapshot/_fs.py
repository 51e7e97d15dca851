"""Safe filesystem work inside agent workspaces: relative-path checks, ignore rules, a symlink-free walk, and
descriptor-based open/mkdir that never follows a symlink (so a link cannot lead a read or write outside).
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mcp_servers.core import open_beneath, replace_at
from mcp_servers.core import workspace_of as core_workspace_of
from mcp_servers.snapshot._secrets import secret_reason

CACHE_DIRS = frozenset({"__pycache__", ".git", ".venv", "venv", "node_modules", "shared_findings", ".mypy_cache",
                        ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints", ".cache", ".hg", ".svn", ".tox"})
"""Folders never snapshotted, wherever they are."""
IGNORE_FILE = ".snapshotignore"
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


class UnsafePath(ValueError):
    """A path that is absolute, climbs out with '..', passes through a symlink, or is otherwise unusable."""


def clean_relpath(path: str, what: str = "path") -> str:
    """`path` as a normalized relative POSIX path, or UnsafePath (absolute, '..', NUL, backslash, empty)."""
    if not isinstance(path, str) or not path or "\x00" in path or "\\" in path or len(path) > 4096:
        raise UnsafePath(f"{what} {path!r} is empty or has forbidden characters")
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        raise UnsafePath(f"{what} {path!r} is absolute")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise UnsafePath(f"{what} {path!r} climbs out with '..'")
    if not parts or any(len(p) > 255 for p in parts):
        raise UnsafePath(f"{what} {path!r} names no file or has a component over 255 characters")
    return "/".join(parts)


class IgnoreRules:
    """gitignore-like patterns: `name` or `*.ext` match at any depth, `a/b*` from the root, `dir/` folders only."""

    def __init__(self, patterns: Iterable[str] = ()) -> None:
        self.raw = [p.strip() for p in patterns if p.strip() and not p.strip().startswith("#")]
        self.patterns: list[tuple[str, bool, bool]] = []
        for line in self.raw:
            dir_only, body = line.endswith("/"), line.rstrip("/")
            if body:
                self.patterns.append((body.lstrip("/"), dir_only, "/" in body))

    def with_file(self, text: str) -> IgnoreRules:
        """These rules plus the lines of a `.snapshotignore`."""
        return IgnoreRules([*self.raw, *text.splitlines()[:1000]])

    def ignored(self, relpath: str, is_dir: bool) -> bool:
        name = relpath.rsplit("/", 1)[-1]
        if is_dir and name in CACHE_DIRS:
            return True
        for pattern, dir_only, anchored in self.patterns:
            if dir_only and not is_dir:
                continue
            if fnmatch.fnmatchcase(relpath if anchored else name, pattern):
                return True
        return False


@dataclass(frozen=True)
class Entry:
    path: str
    is_dir: bool
    size: int = 0
    executable: bool = False


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


Owner = tuple[int, int] | None
"""(uid, gid) that files written into a workspace get: the workspace's owner when the server runs as root (the
agent's unprivileged user), so the agent can edit what it downloaded; None leaves them as created."""


def workspace_owner(root_fd: int) -> Owner:
    info = os.fstat(root_fd)
    return (info.st_uid, info.st_gid) if os.geteuid() == 0 and info.st_uid != 0 else None


def _give(dir_fd: int, name: str, owner: Owner) -> None:
    if owner is not None:  # never follows: a link swapped in meanwhile gets the owner itself, nothing else does
        os.chown(name, *owner, dir_fd=dir_fd, follow_symlinks=False)


def open_dir(root_fd: int, relpath: str, create: bool = False, owner: Owner = None) -> int:
    """A descriptor of `root/relpath`, walking one component at a time without following symlinks."""
    fd = os.dup(root_fd)
    try:
        for part in [p for p in relpath.split("/") if p]:
            if create:
                try:
                    os.mkdir(part, 0o755, dir_fd=fd)
                    _give(fd, part, owner)
                except FileExistsError:
                    pass
            try:
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                raise UnsafePath(f"{relpath!r} passes through a symlink or a non-directory at {part!r}") from exc
            os.close(fd)
            fd = nxt
        return fd
    except BaseException:
        os.close(fd)
        raise


@contextmanager
def opened_root(root: Path) -> Iterator[int]:
    fd = os.open(root, _DIR_FLAGS)
    try:
        yield fd
    finally:
        os.close(fd)


@contextmanager
def open_file_nofollow(root_fd: int, relpath: str) -> Iterator[int]:
    """Read descriptor of a regular file at `root/relpath`; no component may be a symlink (the core's
    `open_beneath`: a FIFO swapped in after the scan is refused without blocking). Raises OSError."""
    fd = open_beneath(root_fd, relpath)
    try:
        yield fd
    finally:
        os.close(fd)


def scan(root_fd: int, rules: IgnoreRules, max_file_bytes: int) -> tuple[list[Entry], list[Skipped]]:
    """Every directory and regular file under `root_fd`, minus caches, ignored paths, links and big files."""
    entries: list[Entry] = []
    skipped: list[Skipped] = []

    def walk(dir_fd: int, prefix: str) -> None:
        with os.scandir(dir_fd) as it:
            children = sorted(it, key=lambda e: e.name)
        for child in children:
            rel = f"{prefix}{child.name}"
            info = child.stat(follow_symlinks=False)
            secret = secret_reason(rel, stat.S_ISDIR(info.st_mode))
            if stat.S_ISLNK(info.st_mode):
                skipped.append(Skipped(rel, "symlink (never followed)"))
            elif secret:
                skipped.append(Skipped(rel + "/" * stat.S_ISDIR(info.st_mode), secret))
            elif stat.S_ISDIR(info.st_mode):
                if rules.ignored(rel, True):
                    skipped.append(Skipped(rel + "/", "cache or ignored folder"))
                    continue
                entries.append(Entry(rel, True))
                try:
                    sub = os.open(child.name, _DIR_FLAGS, dir_fd=dir_fd)
                except OSError:
                    skipped.append(Skipped(rel + "/", "unreadable folder"))
                    continue
                try:
                    walk(sub, rel + "/")
                finally:
                    os.close(sub)
            elif not stat.S_ISREG(info.st_mode):
                skipped.append(Skipped(rel, "not a regular file"))
            elif rules.ignored(rel, False):
                skipped.append(Skipped(rel, "ignored"))
            elif info.st_size > max_file_bytes:
                skipped.append(Skipped(rel, f"over {max_file_bytes} bytes (model weights?)"))
            else:
                entries.append(Entry(rel, False, info.st_size, bool(info.st_mode & 0o111)))

    walk(root_fd, "")
    return entries, skipped


def read_ignore_file(root_fd: int, limit: int = 64 * 1024) -> str:
    try:
        with open_file_nofollow(root_fd, IGNORE_FILE) as fd:
            return os.read(fd, limit).decode("utf-8", errors="replace")
    except (OSError, UnsafePath):
        return ""


def write_file(dir_fd: int, name: str, source: Iterable[bytes], executable: bool, owner: Owner = None) -> int:
    """Create or replace `name` in `dir_fd` atomically (temp file + rename; a symlink there is replaced, not
    followed) with mode 0755 or 0644, owned by `owner`; answers the bytes written."""
    try:
        if stat.S_ISDIR(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
            raise UnsafePath(f"{name!r} exists as a folder")
    except FileNotFoundError:
        pass
    written = replace_at(dir_fd, name, source, 0o755 if executable else 0o644)
    _give(dir_fd, name, owner)
    return written


def workspace_of(workspaces_dir: Path, agent: str) -> Path:
    """`<workspaces_dir>/<agent>` (see `mcp_servers.core.workspace_of`), refused as an UnsafePath."""
    try:
        return core_workspace_of(workspaces_dir, agent)
    except ValueError as exc:
        raise UnsafePath(str(exc)) from None
