"""Files the servers write into agent workspaces: atomic replacement that never follows a planted symlink."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from pathlib import Path


def workspace_of(workspaces_dir: Path, agent: str) -> Path:
    """`<workspaces_dir>/<agent>`; agent names come from tokens (validated at minting), checked again here."""
    if not agent or "/" in agent or agent in (".", ".."):
        raise ValueError(f"agent name {agent!r} cannot name a workspace")
    return (workspaces_dir / agent).resolve()


def replace_at(dir_fd: int, name: str, chunks: Iterable[bytes], mode: int = 0o644) -> int:
    """Write `chunks` to a temporary file in `dir_fd`, then rename it over `name` (a symlink there is replaced, not
    followed; a reader sees the old file or the new one). Answers the bytes written."""
    tmp = f".{name[:200]}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=dir_fd)
    written = 0
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
                written += len(chunk)
            os.fchmod(out.fileno(), mode)
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=dir_fd)
        except OSError:
            pass
        raise
    return written
