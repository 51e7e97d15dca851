"""Folders a job creates in its workspace."""

from __future__ import annotations

import errno
import os
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def make_dirs_nofollow(root: Path, relative: str) -> Path:
    """Create `root/relative` one component at a time, refusing a symlink at any of them.

    Inside bwrap or docker a link can only point into this sandbox's own view anyway; this also keeps the unsafe
    `none` backend from writing through a planted `runs -> ../bob/runs` at start.
    """
    parts = [p for p in relative.split("/") if p not in ("", ".")]
    if not parts or relative.startswith("/") or ".." in parts:
        raise OSError(errno.EINVAL, f"run folder {relative!r} must be a relative path without '..'")
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts:
            try:
                os.mkdir(part, 0o755, dir_fd=fd)
            except FileExistsError:
                pass
            try:
                following = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise OSError(exc.errno, f"{relative!r}: {part!r} is a symbolic link or not a folder") from None
                raise
            os.close(fd)
            fd = following
    finally:
        os.close(fd)
    return root.joinpath(*parts)
