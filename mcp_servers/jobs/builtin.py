"""Built-in job kinds that need no model: `sleep` exercises the scheduler, `environment` shows a worker's settings
(tests, benchmarks, smoke checks)."""

from __future__ import annotations

import os
import time
from typing import Any

from mcp_servers.jobs._context import JobContext


def sleep_job(spec: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Sleep `seconds` in `steps`, reporting progress; fail on purpose when `fail` is set."""
    seconds, steps = float(spec.get("seconds", 0.0)), max(1, int(spec.get("steps", 4)))
    for step in range(steps):
        ctx.check_cancelled()
        time.sleep(seconds / steps)
        ctx.progress((step + 1) / steps, f"step {step + 1}/{steps}", {"step": step + 1})
    if spec.get("fail"):
        raise RuntimeError(str(spec["fail"]))
    (ctx.run_dir / "result.txt").write_text(f"slept {seconds}s\n")
    return {"slept_s": seconds, "pid": os.getpid()}


def environment_job(spec: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Report the named w2s settings a worker sees (the operator's check that jobs run where they should)."""
    return {key: os.environ.get(key) for key in spec.get("keys", []) if key.startswith("W2S_")}
