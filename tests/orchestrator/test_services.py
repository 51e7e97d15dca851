"""Recorded pids are signalled only while they are still the process that was recorded."""

from __future__ import annotations

import subprocess
import sys

from orchestrator._services import pid_is
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
