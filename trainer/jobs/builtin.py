"""Job kinds that need no model: `sleep` exercises the scheduler, `environment` and `probe` show what a job sees
(the operator's check that jobs run where they should; tests and benchmarks use them)."""

from __future__ import annotations

import os
import time
from typing import Any

from trainer.jobs._context import JobContext
from trainer.jobs._kinds import register_job_kind

VISIBLE_ENV = ("CUDA_VISIBLE_DEVICES", "HOME", "USER", "OMP_NUM_THREADS")


@register_job_kind("sleep")
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


@register_job_kind("environment")
def environment_job(spec: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """The named variables a job sees (w2s settings, the GPU it was given, its HOME), never secrets."""
    keys = [k for k in spec.get("keys", []) if k.startswith("W2S_") or k in VISIBLE_ENV]
    return {key: os.environ.get(key) for key in keys if "TOKEN" not in key}


@register_job_kind("probe")
def probe_job(spec: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Try to read each of `read` and to create a file in each of `write` (paths as this job sees them); answer
    what happened to each. A job can do nothing its agent could not: private paths come back `denied` or
    `missing`."""
    outcome: dict[str, Any] = {"read": {}, "write": {}}
    for path in spec.get("read", []):
        try:
            if os.path.isdir(path):
                os.listdir(path)
            else:
                with open(path, "rb") as handle:
                    handle.read(64)
            outcome["read"][path] = "read"
        except FileNotFoundError:
            outcome["read"][path] = "missing"
        except OSError as exc:
            outcome["read"][path] = f"denied: {type(exc).__name__}"
    for folder in spec.get("write", []):
        target = os.path.join(folder, f"probe-{ctx.job_id}.txt")
        try:
            with open(target, "x") as handle:
                handle.write("probe\n")
            outcome["write"][folder] = "written"
        except FileNotFoundError:
            outcome["write"][folder] = "missing"
        except OSError as exc:
            outcome["write"][folder] = f"denied: {type(exc).__name__}"
    return outcome


@register_job_kind("imports")
def imports_job(spec: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Import `modules` (default torch and transformers) and answer how long it took: what every training job pays
    at start now that each runs in a fresh sandbox (benchmarks/jobs_bench.py)."""
    import importlib

    started = time.perf_counter()
    for name in spec.get("modules", ["torch", "transformers"]):
        importlib.import_module(str(name))
    return {"import_s": round(time.perf_counter() - started, 3)}
