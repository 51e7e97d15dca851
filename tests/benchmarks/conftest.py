"""Every benchmark the docs quote runs once here at a tiny size, as the operator runs it (`python benchmarks/X.py`),
in the test's own W2S_HOME; the tests check that its figures are well formed and agree with each other, never
how fast anything was."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def run_bench(w2s_home: Path) -> Callable[..., str]:
    """`run_bench("grader_bench.py", "--n", "5")` runs the script to completion and returns what it printed."""

    def run(script: str, *args: str, timeout: float = 300) -> str:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
        done = subprocess.run([sys.executable, str(REPO / "benchmarks" / script), *args], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=timeout, check=False)
        assert done.returncode == 0, f"{script} {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        return done.stdout

    return run
