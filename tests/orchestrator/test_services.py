"""Recorded pids are signalled only while they are still the process that was recorded."""

from __future__ import annotations

import subprocess
import sys

import pytest

from orchestrator._services import compute_env, pid_is
from tests.orchestrator.launch_helpers import wait_for


def test_pid_is_checks_the_command_line() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "orchestrator", "launch"])
    try:
        wait_for("the child's exec", lambda: pid_is(proc.pid, "orchestrator", "launch"), 10, 0.05)
        assert not pid_is(proc.pid, "orchestrator", "serve")
    finally:
        proc.kill()
        proc.wait()
    assert not pid_is(proc.pid, "orchestrator") and not pid_is(None) and not pid_is(-1)


def test_compute_targets() -> None:
    assert compute_env("local") == {"W2S_COMPUTE_BACKEND": "local"}
    assert compute_env("ray") == {"W2S_COMPUTE_BACKEND": "ray"}
    assert compute_env("ray:10.0.0.5:6379") == {"W2S_COMPUTE_BACKEND": "ray", "W2S_RAY_ADDRESS": "10.0.0.5:6379"}
    assert compute_env("ray://head:10001")["W2S_RAY_ADDRESS"] == "ray://head:10001"
    for bad in ("slurm", "ray:", "ray:host", "ray://host:99999", "ray:host:12 34"):
        with pytest.raises(ValueError, match="--compute"):
            compute_env(bad)
