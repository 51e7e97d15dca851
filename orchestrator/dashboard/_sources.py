"""Where the dashboard reads from, and how: every database opened read-only (`mode=ro`), each one optional.

The dashboard runs on the operator side beside the trusted servers' state. It never writes: a database that does
not exist yet (a launch that has not started, no snapshot taken) reads as empty instead of being created.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from mcp_servers.core import BUSY_TIMEOUT_MS
from trainer import paths

DB_NAMES = ("grader", "findings", "snapshot", "jobs", "orchestrator")


@dataclass(frozen=True)
class Sources:
    """Paths of everything the dashboard reads (all operator side)."""

    state_dir: Path
    workspaces_dir: Path
    label_store: Path
    slots: int = 1
    gpu: bool = False
    """Whether compute slots are GPUs (job hours are then GPU hours, else CPU hours)."""
    jobs_db: Path | None = None
    """The compute servers' jobs database when it is not `<state_dir>/jobs.db` (`W2S_JOBS_DB`; compose keeps it
    in the compute service's own volume)."""
    snapshot_store: Path | None = None
    """The snapshot server's object store (default: its own setting, `W2S_SNAPSHOT_STORE_DIR` or
    `<state_dir>/snapshots`)."""
    errors: dict[str, str] = field(default_factory=dict, compare=False)
    """The last read error per database (shown on the page; cleared by the next good read)."""

    @classmethod
    def from_env(cls, state_dir: Path | None = None) -> Sources:
        where = paths()
        gpus = [g for g in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if g.strip()]
        gpu = bool(gpus) or shutil.which("nvidia-smi") is not None
        slots = int(os.environ.get("W2S_COMPUTE_SLOTS") or 0) or max(1, len(gpus))
        from mcp_servers.snapshot import SnapshotSettings

        state = state_dir or where.state_dir
        store = SnapshotSettings(state_dir=state).store_root
        jobs = os.environ.get("W2S_JOBS_DB")
        return cls(state_dir=state, workspaces_dir=where.workspaces_dir, label_store=where.label_store_dir,
                   slots=slots, gpu=gpu, jobs_db=Path(jobs) if jobs else None, snapshot_store=store)

    def db(self, name: str) -> Path:
        if name not in DB_NAMES:
            raise ValueError(f"unknown database {name!r}; one of {', '.join(DB_NAMES)}")
        if name == "jobs" and self.jobs_db is not None:
            return self.jobs_db
        return self.state_dir / f"{name}.db"

    @property
    def snapshot_objects(self) -> Path:
        return (self.snapshot_store or self.state_dir / "snapshots") / "objects"

    @contextmanager
    def connect(self, name: str) -> Iterator[sqlite3.Connection | None]:
        """A read-only connection to one database, or None when it does not exist (yet)."""
        path = self.db(name)
        if not path.is_file():
            yield None
            return
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000,
                               check_same_thread=False)
        conn.row_factory = sqlite3.Row
        with closing(conn):
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA query_only=ON")
            yield conn


def has_table(conn: sqlite3.Connection, table: str) -> bool:
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?", (table,))
    return row.fetchone() is not None


def rows(sources: Sources, db: str, table: str, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
    """Rows of `sql` on one database, or [] when the database or its table does not exist yet."""
    try:
        with sources.connect(db) as conn:
            if conn is None or not has_table(conn, table):
                return []
            found = conn.execute(sql, params).fetchall()
    except sqlite3.DatabaseError as exc:
        # A database mid-restore, or a read-only volume without the WAL files, must not take the page down.
        sources.errors[db] = f"{sources.db(db).name}: {exc}"
        return []
    sources.errors.pop(db, None)
    return found
