"""Job start latency: one sandbox per job (now) versus a forkserver that had torch imported (before), measured in
the same run, plus small training jobs from 3 agents through the runner versus the same jobs in one process.

    python benchmarks/jobs_bench.py --latency-only      # seconds: start latencies and their ratios
    python benchmarks/jobs_bench.py [--jobs 6] [--steps 4] [--slots 1,2] [--backend bwrap]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
PRELOAD = ["torch", "transformers", "peft"]


def _setup(home: Path) -> None:
    from trainer import paths

    operator = paths()
    os.environ["W2S_RAW_DIR"] = str(operator.raw_dir)
    os.environ["W2S_MODELS_DIR"] = str(operator.models_dir)
    os.environ["W2S_HOME"] = str(home)
    from mcp_servers.grader.datasets._build import build_testbed

    build_testbed("sentiment", "tiny", seed=0)
    for folder, _, _ in os.walk(paths().data_dir):
        os.chmod(folder, 0o755)  # sandboxes run as an unprivileged user; staging folders are 0700


def _box(backend: str):
    from mcp_servers.jobs import JobSandbox
    from trainer import paths

    where = paths()
    where.workspaces_dir.mkdir(parents=True, exist_ok=True)
    return JobSandbox(workspaces_dir=where.workspaces_dir, data_dir=where.data_dir, models_dir=where.models_dir,
                      artifacts_dir=where.artifacts_dir, backend_name=backend)


def _wait_all(queue, ids: list[str]) -> None:
    while not all(queue.view(i).state.finished for i in ids):
        time.sleep(0.02)


def _noop() -> None:
    """What the old worker did before a job's own code: nothing (torch was already imported)."""


def forkserver_latency(n: int) -> dict[str, float]:
    """Before: a forkserver that preloaded torch, transformers and peft; a job is one Process from it."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    warm = ctx.Process(target=_noop)
    warm.start()
    warm.join()  # the forkserver's own start (imports) is paid once per server, not per job
    times = []
    for _ in range(n):
        started = time.perf_counter()
        proc = ctx.Process(target=_noop)
        proc.start()
        proc.join()
        times.append(time.perf_counter() - started)
    return {"median_s": statistics.median(times), "max_s": max(times)}


def runner_latency(n: int, backend: str, target: str, spec: dict) -> dict[str, float]:
    """Now: submit -> succeeded through the dispatcher, one fresh sandbox per job. (No CPU time here: the sandbox's
    processes are reaped inside its pid namespace, so RUSAGE_CHILDREN does not see them.)"""
    from mcp_servers.core import create_sqlite_engine
    from mcp_servers.jobs import JobQueue, JobRunner
    from trainer import paths

    box = _box(backend)
    db = paths().state_dir / f"latency-{secrets_hex()}.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    queue = JobQueue(create_sqlite_engine(db), workspaces_dir=box.workspaces_dir)
    times, inner = [], []
    with JobRunner(queue, box, slots=1, poll_s=0.02):
        for i in range(n + 1):
            started = time.perf_counter()
            job = queue.submit(f"a{i % 3}", "bench", target, spec)
            _wait_all(queue, [job.id])
            view = queue.view(job.id)
            if view.state != "succeeded":
                raise RuntimeError(f"{target} failed: {view.error}")
            if i:  # the first one also pays the sandbox backend's probe
                times.append(time.perf_counter() - started)
                inner.append((view.result or {}).get("import_s", 0.0))
    return {"median_s": statistics.median(times), "max_s": max(times),
            "import_median_s": statistics.median(inner)}


def secrets_hex() -> str:
    import secrets

    return secrets.token_hex(3)


def through_runner(n_jobs: int, steps: int, slots: int, backend: str) -> float:
    from mcp_servers.core import create_sqlite_engine
    from mcp_servers.jobs import JobQueue, JobRunner
    from trainer import paths

    box = _box(backend)
    db = paths().state_dir / f"bench-{slots}.db"
    queue = JobQueue(create_sqlite_engine(db), workspaces_dir=box.workspaces_dir)
    with JobRunner(queue, box, slots=slots, poll_s=0.05):
        started = time.perf_counter()
        ids = [queue.submit(f"agent{i % 3}", "train", "trainer.jobs.train:run_sft_job", _sft_spec(steps)).id
               for i in range(n_jobs)]
        _wait_all(queue, ids)
        wall = time.perf_counter() - started
    failed = [queue.view(i).error for i in ids if queue.view(i).state != "succeeded"]
    if failed:
        raise RuntimeError(f"jobs failed: {failed[:2]}")
    return wall


def _sft_spec(steps: int) -> dict:
    from trainer.data import load_split
    from trainer.training import TrainConfig

    config = TrainConfig(model="minilm-l6", lora=False, max_steps=steps, batch_size=8, progress=False)
    n = len(load_split("sentiment", "train_unlabel"))
    return {"dataset": "sentiment", "split": "train_unlabel", "config": config.to_dict(), "hard_labels": True,
            "labels_source": "bench", "labels": [float(i % 2) for i in range(n)]}


def in_process(n_jobs: int, steps: int) -> float:
    from trainer.data import load_split
    from trainer.training import TrainConfig, train

    started = time.perf_counter()
    split = load_split("sentiment", "train_unlabel")
    labels = [float(n % 2) for n in range(len(split))]
    for _ in range(n_jobs):
        with tempfile.TemporaryDirectory() as tmp:
            config = TrainConfig.from_dict(_sft_spec(steps)["config"])
            train(config, split.rows, labels, Path(tmp))
    return time.perf_counter() - started


def host_import(n: int) -> dict[str, float]:
    """For scale: a plain host process importing the same stack (what every sandboxed job now pays at start), as
    wall time and as CPU time (user + sys, which a loaded machine does not inflate)."""
    import resource
    import subprocess
    import sys

    walls, cpus = [], []
    for _ in range(n):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-I", "-c", "import torch, transformers"], check=True)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return {"median_s": statistics.median(walls), "cpu_median_s": statistics.median(cpus)}


def latency(n: int, backend: str) -> dict:
    before = forkserver_latency(n)
    host = host_import(max(3, n // 2))
    noop = runner_latency(n, backend, "trainer.jobs.builtin:sleep_job", {"seconds": 0, "steps": 1})
    torch = runner_latency(n, backend, "trainer.jobs.builtin:imports_job", {})
    return {"before_forkserver_start_s": before, "host_process_import_torch_s": host,
            f"now_{backend}_noop_job_s": noop,
            f"now_{backend}_torch_import_job_s": torch,
            "ratio_noop_now_vs_before": round(noop["median_s"] / before["median_s"], 1),
            "ratio_torch_job_now_vs_before": round(torch["median_s"] / before["median_s"], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=6)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--slots", default="1,2")
    parser.add_argument("--latency-jobs", type=int, default=8)
    parser.add_argument("--backend", default="bwrap", help="the jobs' sandbox backend (W2S_SANDBOX)")
    parser.add_argument("--latency-only", action="store_true", help="only the start latencies (about a minute)")
    args = parser.parse_args()
    report: dict = {"cpus": os.cpu_count(), "backend": args.backend}
    with tempfile.TemporaryDirectory() as tmp:
        _setup(Path(tmp))
        report["start_latency"] = latency(args.latency_jobs, args.backend)
        if not args.latency_only:
            baseline = in_process(args.jobs, args.steps)
            report["one_process_sequential_s"] = round(baseline, 2)
            for slots in (int(s) for s in args.slots.split(",")):
                wall = through_runner(args.jobs, args.steps, slots, args.backend)
                report[f"runner_slots{slots}_s"] = round(wall, 2)
                report[f"runner_slots{slots}_vs_sequential"] = round(wall / baseline, 3)
    print(json.dumps(report, indent=2, default=lambda x: round(x, 3)))


if __name__ == "__main__":
    main()
