"""An agent's workspace and paths inside it: every file a compute tool reads or writes is checked here."""

from __future__ import annotations

from pathlib import Path

from mcp_servers.jobs._queue import JobError


def inside_workspace(workspace: Path, relative: str, must_exist: bool = True) -> Path:
    """Resolve `relative` inside `workspace`; absolute paths, `..` and symlinks leading out are refused."""
    if not relative or Path(relative).is_absolute():
        raise JobError(f"path {relative!r} must be relative to your workspace",
                       "send a path like 'runs/<job id>/checkpoint' or 'labels/mine.jsonl'")
    if ".." in Path(relative).parts:
        raise JobError(f"path {relative!r} leaves your workspace", "send a path inside your workspace, without '..'")
    resolved = (workspace / relative).resolve()
    if not resolved.is_relative_to(workspace):
        raise JobError(f"path {relative!r} resolves outside your workspace (a symlink?)",
                       "send a path to a real file inside your workspace")
    if must_exist and not resolved.exists():
        raise JobError(f"{relative!r} does not exist in your workspace", "check the path (relative to the workspace)")
    return resolved
