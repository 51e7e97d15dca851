"""Pydantic models at the snapshot server's tool boundary."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

MAX_ID = 2**63 - 1
"""The largest integer SQLite stores: the core's ArgumentErrors refuses anything above it for every tool, and the input
schemas say so (`maximum`), so a client can read the range from tools/list."""


class SkippedPath(BaseModel):
    path: str
    reason: str


class UploadResult(BaseModel):
    snapshot_id: int
    agent: str
    source: str = Field(description="workspace (read from your workspace) or inline (the archive you sent)")
    files: int
    dirs: int
    total_bytes: int
    new_bytes: int = Field(description="bytes the store did not hold yet")
    deduplicated_bytes: int = Field(description="bytes already stored (identical files are kept once)")
    skipped: list[SkippedPath] = Field(default_factory=list, description="first 100 paths left out, with why")
    skipped_count: int = 0


class SnapshotSummary(BaseModel):
    id: int
    agent: str
    message: str
    idea: str | None
    finding_id: int | None
    created_at: datetime
    source: str
    files: int
    total_bytes: int


class SnapshotPage(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[SnapshotSummary]
    next_offset: int | None = None


class SnapshotFile(BaseModel):
    path: str
    is_dir: bool = False
    size: int = 0
    executable: bool = False
    sha256: str | None = None


class SnapshotDetail(SnapshotSummary):
    entries: list[SnapshotFile] = Field(description="files and folders (first 2000)")
    entries_total: int


class DownloadResult(BaseModel):
    snapshot_id: int
    into: str | None = Field(default=None, description="folder inside your workspace that now holds the files")
    files: int
    dirs: int
    bytes: int
    archive_b64: str | None = Field(default=None, description="inline mode: the snapshot as a base64 tar.gz")
    withheld: list[SkippedPath] = Field(default_factory=list,
                                        description="files not handed out because they carry a token or key")
