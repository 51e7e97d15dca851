"""The snapshot database: one row per snapshot and one per file or folder in it (contents live in the store)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, UniqueConstraint
from sqlmodel import Field, SQLModel

from mcp_servers.core import IdempotencyRecord, init_tables


class SnapshotRow(SQLModel, table=True):
    __tablename__ = "snapshot_snapshot"

    id: int | None = Field(default=None, primary_key=True)
    agent: str = Field(index=True)
    message: str
    idea: str | None = Field(default=None, index=True)
    finding_id: int | None = Field(default=None, index=True)
    created_at: datetime = Field(index=True)
    source: str
    """`workspace` (read from the mount) or `inline` (a tar.gz sent in the call)."""
    files: int
    dirs: int
    total_bytes: int
    new_bytes: int
    """Bytes this snapshot added to the store (the rest were already there)."""
    skipped_json: str = "[]"


class SnapshotEntryRow(SQLModel, table=True):
    __tablename__ = "snapshot_entry"

    id: int | None = Field(default=None, primary_key=True)
    snapshot_id: int = Field(foreign_key="snapshot_snapshot.id", index=True)
    path: str
    is_dir: bool = False
    sha256: str | None = Field(default=None, index=True)
    size: int = 0
    executable: bool = False


class IdempotencyRow(IdempotencyRecord, table=True):
    """The first answer to an upload with a client key: a retry with the key answers it again, stores nothing."""

    __tablename__ = "snapshot_idempotency"
    __table_args__ = (UniqueConstraint("agent", "key"),)

    snapshot_id: int = Field(foreign_key="snapshot_snapshot.id")


_APPEND_ONLY = tuple(
    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
    for table in ("snapshot_snapshot", "snapshot_entry", "snapshot_idempotency") for op in ("UPDATE", "DELETE")
)


def init_snapshot_db(engine: Engine) -> None:
    init_tables(engine, SnapshotRow, SnapshotEntryRow, IdempotencyRow, ddl=_APPEND_ONLY)
