"""The snapshot server's only view of the findings server: does a finding id exist? (read-only SQLite)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from mcp_servers.core import BUSY_TIMEOUT_MS


def finding_exists(findings_db: Path, finding_id: int) -> bool:
    """True if `findings_db` holds finding `finding_id`; False if not, or if there is no findings db yet."""
    if not findings_db.is_file():
        return False
    try:
        with closing(sqlite3.connect(f"{findings_db.resolve().as_uri()}?mode=ro", uri=True,
                                     timeout=BUSY_TIMEOUT_MS / 1000)) as conn:
            row = conn.execute("SELECT 1 FROM findings_finding WHERE id = ?", (finding_id,)).fetchone()
    except sqlite3.Error:
        return False
    return row is not None
