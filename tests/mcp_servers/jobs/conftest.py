from pathlib import Path

import pytest

from mcp_servers.core import create_sqlite_engine
from mcp_servers.jobs import JobQueue, Quotas

SLEEP = "mcp_servers.jobs.builtin:sleep_job"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "jobs.db"


@pytest.fixture
def queue(db_path: Path) -> JobQueue:
    return JobQueue(create_sqlite_engine(db_path), Quotas(max_queued_per_agent=5))
