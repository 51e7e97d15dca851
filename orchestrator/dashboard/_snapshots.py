"""A snapshot against its parent (the same agent's previous snapshot): files added, removed, changed, and the
unified diff of changed text files, read from the snapshot server's content-addressed store."""

from __future__ import annotations

import difflib
import os
import re

from pydantic import BaseModel

from orchestrator.dashboard._board import epoch
from orchestrator.dashboard._findings import SnapshotItem
from orchestrator.dashboard._sources import Sources, rows

_DIGEST = re.compile(r"^[0-9a-f]{64}\Z")
MAX_TEXT_BYTES = 256 * 1024
MAX_DIFF_LINES = 2000
MAX_DIFF_FILES = 100
"""Changed files past this many are listed without a text diff (a page stays quick on a huge snapshot)."""


class FileChange(BaseModel):
    path: str
    change: str
    """added | removed | changed"""
    diff: str | None = None
    note: str | None = None


class SnapshotDiff(BaseModel):
    snapshot: SnapshotItem
    parent: SnapshotItem | None
    files: list[str]
    changes: list[FileChange]


def _snapshot(sources: Sources, where: str, params: tuple) -> SnapshotItem | None:
    found = rows(sources, "snapshot", "snapshot_snapshot",
                 f"SELECT id, agent, message, idea, created_at, files, total_bytes FROM snapshot_snapshot WHERE {where}",
                 params)
    if not found:
        return None
    s = found[0]
    return SnapshotItem(id=s["id"], agent=s["agent"], message=s["message"], idea=s["idea"],
                        at=epoch(s["created_at"]) or 0.0, files=s["files"], total_bytes=s["total_bytes"])


def _entries(sources: Sources, snapshot_id: int) -> dict[str, str | None]:
    return {r["path"]: r["sha256"] for r in rows(
        sources, "snapshot", "snapshot_entry",
        "SELECT path, sha256 FROM snapshot_entry WHERE snapshot_id = ? AND is_dir = 0 ORDER BY path", (snapshot_id,))}


def read_object(sources: Sources, digest: str | None) -> bytes | None:
    """One stored file's bytes (None when missing, too large for a diff or not a digest)."""
    if digest is None or not _DIGEST.match(digest):
        return None
    try:
        fd = os.open(sources.snapshot_objects / digest[:2] / digest[2:], os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(MAX_TEXT_BYTES + 1)
    return None if len(data) > MAX_TEXT_BYTES else data


def _text(data: bytes | None) -> list[str] | None:
    if data is None or b"\0" in data:
        return None
    try:
        return data.decode("utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        return None


def _diff(sources: Sources, path: str, old: str | None, new: str | None) -> tuple[str | None, str | None]:
    before = [] if old is None else _text(read_object(sources, old))
    after = [] if new is None else _text(read_object(sources, new))
    if before is None or after is None:
        return None, "binary, large or missing in the store: no text diff"
    lines = list(difflib.unified_diff(before, after, f"a/{path}", f"b/{path}"))
    note = None
    if len(lines) > MAX_DIFF_LINES:
        lines, note = lines[:MAX_DIFF_LINES], f"diff cut at {MAX_DIFF_LINES} lines"
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines), note


def snapshot_diff(sources: Sources, snapshot_id: int) -> SnapshotDiff | None:
    snap = _snapshot(sources, "id = ?", (snapshot_id,))
    if snap is None:
        return None
    parent = _snapshot(sources, "agent = ? AND id < ? ORDER BY id DESC LIMIT 1", (snap.agent, snapshot_id))
    now, before = _entries(sources, snapshot_id), _entries(sources, parent.id) if parent else {}
    changes = []
    for path in sorted(set(now) | set(before)):
        old, new = before.get(path), now.get(path)
        if old == new and path in before and path in now:
            continue
        kind = "added" if path not in before else "removed" if path not in now else "changed"
        if len(changes) < MAX_DIFF_FILES:
            diff, note = _diff(sources, path, old, new)
        else:
            diff, note = None, f"no diff: more than {MAX_DIFF_FILES} files changed"
        changes.append(FileChange(path=path, change=kind, diff=diff, note=note))
    return SnapshotDiff(snapshot=snap, parent=parent, files=sorted(now), changes=changes)
