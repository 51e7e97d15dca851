"""A server's database against its replica: never start from nothing while a replica holds the history, never
start on a damaged file, and never hand out an id again after a restore.

Litestream is asynchronous: what was committed in the last sync interval before a crash and a lost disk is not in
the replica. Rows of that window were acknowledged (an agent may have cited their ids), so after a restore the
id sequences of every table jump by `ID_GAP_AFTER_RESTORE`: ids stay integers and stay valid, and none is reused.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mcp_servers.core._litestream import replica_exists

ID_GAP_AFTER_RESTORE = 100_000
"""How far every id sequence jumps after a restore. The lost window is at most about one sync interval (1 s) of
writes; nine agents writing as fast as they can acknowledged about 41,000 writes in minutes across all servers, so
no table gets anywhere near this many rows in a second."""


class DatabaseStateError(RuntimeError):
    """The database file cannot be served as it is; the message names the file and the remedy."""


def user_tables(db: Path) -> list[str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")
        return [name for (name,) in rows]


def row_counts(db: Path) -> dict[str, int]:
    """Rows per user table (what a restore brought back)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return {name: int(conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]) for name in user_tables(db)}


def is_blank(db: Path) -> bool:
    """Missing, zero bytes, or a valid SQLite file without a single table."""
    if not db.exists() or db.stat().st_size == 0:
        return True
    try:
        return not user_tables(db)
    except sqlite3.DatabaseError:
        return False  # damaged, not blank: `check_integrity` says so


def check_integrity(db: Path) -> None:
    """Refuse a truncated or corrupt file up front, instead of serving until the first query touches a bad page."""
    if not db.exists() or db.stat().st_size == 0:
        return
    remedy = (f"move it away and restore the last good state with `w2s-admin replica restore {db.stem}` "
              f"(or `--timestamp` for a point in time), or start with --fresh to begin an empty database")
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            verdict = [row[0] for row in conn.execute("PRAGMA quick_check")]
    except sqlite3.DatabaseError as exc:
        raise DatabaseStateError(f"{db} is not a readable SQLite database ({exc}); {remedy}") from None
    if verdict != ["ok"]:
        raise DatabaseStateError(f"{db} is damaged ({'; '.join(verdict[:3])}); {remedy}")


def check_startup(db: Path, replica_url: str | None, *, fresh: bool = False) -> None:
    """Called before a server opens (and so creates) its database.

    A missing or empty database while the replica holds data means the file was lost or moved: serving would
    start a new history that litestream then writes over the old one (a restore gave 1 row instead of 18,448).
    """
    if fresh:
        return
    if is_blank(db):
        if replica_url and replica_exists(replica_url):
            raise DatabaseStateError(
                f"refusing to start: {db} is missing or empty but its replica {replica_url} holds data. Restore it "
                f"first with `w2s-admin replica restore {db.stem}`, or start with --fresh to begin a new database "
                "(the replica's history is then superseded)")
        return
    check_integrity(db)


def bump_sequences(db: Path, gap: int = ID_GAP_AFTER_RESTORE) -> dict[str, int]:
    """Move every AUTOINCREMENT sequence of a restored database `gap` past its high-water mark; returns the new
    next-id floor per table. Tables without AUTOINCREMENT (made by an older version) are named in the result
    with -1: their ids can be reused, re-create them to fix it."""
    floors: dict[str, int] = {}
    with sqlite3.connect(db) as conn:
        tables = conn.execute("SELECT name, sql FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")
        for name, sql in tables.fetchall():
            if "AUTOINCREMENT" not in (sql or "").upper():
                if _has_integer_key(conn, name):
                    floors[name] = -1
                continue
            (high,) = conn.execute(f'SELECT coalesce(max(rowid), 0) FROM "{name}"').fetchone()
            row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (name,)).fetchone()
            seq = max(high, row[0] if row else 0) + gap
            if row:
                conn.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = ?", (seq, name))
            else:
                conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (name, seq))
            floors[name] = seq + 1
    return floors


def _has_integer_key(conn: sqlite3.Connection, table: str) -> bool:
    columns = conn.execute(f'PRAGMA table_info("{table}")').fetchall()
    keys = [c for c in columns if c[5]]
    return len(keys) == 1 and keys[0][2].upper() == "INTEGER"
