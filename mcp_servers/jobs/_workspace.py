"""Reading what an agent (or its job) left in its workspace: every read is one `open_beneath`, no link followed,
and what was opened is what is used. Errors name the workspace-relative path, never a host path."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from mcp_servers.core import BeneathError, open_beneath, read_beneath_bytes
from mcp_servers.jobs._queue import JobError

MAX_READ_BYTES = 64 * 1024 * 1024
"""Largest labels or predictions file the servers read (a 1M-row split's predictions fit)."""


def relative_path(relative: str) -> str:
    """`relative` if it is a clean workspace-relative path; absolute paths, `..` and NUL are refused."""
    if not relative or relative.startswith("/") or Path(relative).is_absolute():
        raise JobError(f"path {relative!r} must be relative to your workspace",
                       "send a path like 'runs/<job id>/checkpoint' or 'labels/mine.jsonl'")
    if ".." in Path(relative).parts:
        raise JobError(f"path {relative!r} leaves your workspace", "send a path inside your workspace, without '..'")
    if "\0" in relative:
        raise JobError(f"path {relative!r} contains a NUL byte", "send a plain path")
    return relative


def _refusal(exc: BeneathError, relative: str) -> JobError:
    if exc.errno == errno.ENOENT:
        return JobError(f"{relative!r} does not exist in your workspace", "check the path (relative to the workspace)")
    if exc.errno in (errno.ELOOP, errno.EXDEV, errno.ENOTDIR):
        return JobError(f"{relative!r} is a symbolic link or leads outside your workspace",
                        "the servers open only real files inside your workspace: copy the file there")
    return JobError(f"{relative!r}: {exc.strerror}", "send the path of a regular file in your workspace")


def read_workspace_file(workspace: Path, relative: str, max_bytes: int = MAX_READ_BYTES) -> bytes:
    """The bytes of one regular file in the workspace, read once."""
    relative_path(relative)
    try:
        return read_beneath_bytes(workspace, relative, max_bytes=max_bytes)
    except BeneathError as exc:
        raise _refusal(exc, relative) from None


def check_workspace_file(workspace: Path, relative: str) -> None:
    """That `relative` is a regular file reachable without links (e.g. a checkpoint's classifier.json).

    The host only checks; the job opens the file itself, inside the sandbox, as the agent."""
    relative_path(relative)
    try:
        os.close(open_beneath(workspace, relative))
    except BeneathError as exc:
        raise _refusal(exc, relative) from None
