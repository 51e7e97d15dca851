from pathlib import Path

import pytest

from mcp_servers.core import create_sqlite_engine
from mcp_servers.jobs import JobQueue, JobSandbox, Quotas
from tests.mcp_servers.compute_fixtures import compute_env, servers  # noqa: F401  (fixtures of the server tests)

SLEEP = "trainer.jobs.builtin:sleep_job"




@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "jobs.db"


@pytest.fixture
def workspaces(tmp_path: Path) -> Path:
    (tmp_path / "workspaces").mkdir()
    return tmp_path / "workspaces"


@pytest.fixture
def box(w2s_home: Path, workspaces: Path, bwrap_ok: None) -> JobSandbox:
    """Jobs in real bubblewrap sandboxes over a fresh W2S_HOME (public data only; the private tree exists)."""
    from trainer import paths

    where = paths()
    where.data_dir.mkdir(parents=True, exist_ok=True)
    return JobSandbox(workspaces_dir=workspaces, data_dir=where.data_dir, models_dir=where.models_dir,
                      artifacts_dir=where.artifacts_dir, backend_name="bwrap")


@pytest.fixture
def queue(db_path: Path, workspaces: Path) -> JobQueue:
    return JobQueue(create_sqlite_engine(db_path), Quotas(max_queued_per_agent=5), workspaces_dir=workspaces)
