from __future__ import annotations

import threading
from pathlib import Path

from sqlmodel import Field, SQLModel, select

from mcp_servers.core import create_sqlite_engine, init_tables, read_session, write_session


class CoreCounter(SQLModel, table=True):
    __tablename__ = "test_core_counter"
    id: int | None = Field(default=None, primary_key=True)
    value: int = 0


def test_wal_and_busy_timeout(tmp_path: Path) -> None:
    engine = create_sqlite_engine(tmp_path / "x" / "a.db")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000


def test_begin_immediate_serializes_read_then_write(tmp_path: Path) -> None:
    """Eight threads, each with its own engine (like processes), increment one counter: no update is lost."""
    db = tmp_path / "c.db"
    init_tables(create_sqlite_engine(db), CoreCounter)
    with write_session(create_sqlite_engine(db)) as session:
        session.add(CoreCounter(id=1, value=0))

    def bump() -> None:
        engine = create_sqlite_engine(db, pooled=False)
        for _ in range(25):
            with write_session(engine) as session:
                row = session.get(CoreCounter, 1)
                assert row is not None
                row.value += 1
                session.add(row)

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with read_session(create_sqlite_engine(db)) as session:
        assert session.exec(select(CoreCounter.value)).one() == 200


def test_write_session_rolls_back_on_error(tmp_path: Path) -> None:
    engine = create_sqlite_engine(tmp_path / "r.db")
    init_tables(engine, CoreCounter)
    try:
        with write_session(engine) as session:
            session.add(CoreCounter(value=5))
            session.flush()
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    with read_session(engine) as session:
        assert session.exec(select(CoreCounter)).all() == []
