"""SQLite through sqlmodel, safe for several processes: WAL, busy_timeout, and `BEGIN IMMEDIATE` for writes.

Python's sqlite3 driver opens transactions lazily and as DEFERRED, so two processes that read then write can both
read the old state; one update is then lost or fails with "database is locked". Here the driver runs in autocommit
mode and SQLAlchemy's `begin` event issues the BEGIN itself: `write_session` takes the write lock up front
(`BEGIN IMMEDIATE`), so a read-then-write sequence inside it is serialized across processes.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine, Integer, Table, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool
from sqlmodel import Session, SQLModel, create_engine

BUSY_TIMEOUT_MS = 5000
_BEGIN_OPTION = "w2s_begin"


def create_sqlite_engine(
    path: Path, synchronous: Literal["OFF", "NORMAL", "FULL"] = "NORMAL", pooled: bool = True
) -> Engine:
    """An engine on `path` (created with its folder) in WAL mode with busy_timeout=5000."""
    path.parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000}}
    if not pooled:
        kwargs["poolclass"] = NullPool
    engine = create_engine(f"sqlite:///{path}", **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        _retry_locked(lambda: cursor.execute("PRAGMA journal_mode=WAL"))
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _retry_locked(action: Callable[[], Any], timeout_s: float = BUSY_TIMEOUT_MS / 1000) -> Any:
    """Run `action`, retrying while SQLite says "database is locked".

    Switching a new database to WAL and creating its tables take locks for which SQLite does not always call the
    busy handler, so servers started together (compose, `orchestrator serve`) would otherwise fail at start.
    """
    deadline = time.monotonic() + timeout_s
    delay = 0.01
    while True:
        try:
            return action()
        except (sqlite3.OperationalError, OperationalError) as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def init_tables(engine: Engine, *models: type[SQLModel], ddl: tuple[str, ...] = ()) -> None:
    """Create the tables of `models` (only these: the metadata is shared by every server) and run extra DDL."""

    tables = [m.__table__ for m in models]  # type: ignore[attr-defined]
    for table in tables:
        _never_reuse_ids(table)

    def create() -> None:
        SQLModel.metadata.create_all(engine, tables=tables)
        with engine.begin() as conn:
            for statement in ddl:
                conn.exec_driver_sql(statement)

    _retry_locked(create)


def _never_reuse_ids(table: Table) -> None:
    """An integer primary key gets AUTOINCREMENT: SQLite then never hands out an id again, even after the row with
    the highest id is deleted, and a restore can move the sequence past ids a lost replica tail had acknowledged
    (`_replica.bump_sequences`)."""
    keys = list(table.primary_key.columns)
    if len(keys) == 1 and isinstance(keys[0].type, Integer):
        table.dialect_options["sqlite"]["autoincrement"] = True


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """A session inside `BEGIN IMMEDIATE`: commit on success, roll back on error.

    Use it for every read-then-write (budgets, counters, append with a check); it waits up to busy_timeout for
    the write lock instead of failing later.
    """
    with Session(engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"}), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """A read-only session (a deferred transaction: a consistent snapshot, no write lock)."""
    with Session(engine, expire_on_commit=False) as session:
        yield session
