import os
import subprocess
import sys
from pathlib import Path

import pytest

from mcp_servers.core import create_sqlite_engine
from mcp_servers.jobs import ComputeSettings, JobQueue, JobRunner, make_runner


def test_the_local_backend_is_the_default_and_an_unknown_one_is_refused(tmp_path: Path, w2s_home: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    queue = JobQueue(create_sqlite_engine(tmp_path / "jobs.db"))
    built = make_runner(queue, ComputeSettings(slots=1))
    assert type(built) is JobRunner and built.slots == 1
    monkeypatch.setenv("W2S_COMPUTE_BACKEND", "slurm")
    with pytest.raises(ValueError, match="unknown compute backend 'slurm'.*local, ray"):
        make_runner(queue, ComputeSettings())


def test_without_the_ray_backend_chosen_nothing_imports_ray() -> None:
    code = ("import sys; from mcp_servers.jobs import make_runner; import mcp_servers.train, "
            "mcp_servers.predict; print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[3], env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.stdout.strip() == "False", out.stderr
