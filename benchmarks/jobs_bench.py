"""Job runner benchmark: scheduler overhead per job, and 6 small training jobs from 3 agents through the runner
versus the same jobs one by one in a single process (ratio measured in the same run).

    python benchmarks/jobs_bench.py [--jobs 6] [--steps 4] [--slots 1,2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def _setup(home: Path) -> None:
    from trainer import paths

    operator = paths()
    os.environ["W2S_RAW_DIR"] = str(operator.raw_dir)
    os.environ["W2S_MODELS_DIR"] = str(operator.models_dir)
    os.environ["W2S_HOME"] = str(home)
    from mcp_servers.grader.datasets._build import build_testbed

    build_testbed("sentiment", "tiny", seed=0)


def _sft_spec(steps: int) -> dict:
    from trainer.training import TrainConfig

    config = TrainConfig(model="minilm-l6", lora=False, max_steps=steps, batch_size=8, progress=False)
    return {"dataset": "sentiment", "split": "train_unlabel", "config": config.to_dict(), "hard_labels": True,
            "labels_source": "bench"}


def _write_labels(run_dir: Path) -> None:
    from trainer.data import load_split, write_jsonl

    split = load_split("sentiment", "train_unlabel")
    run_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl(run_dir / "labels.jsonl", ({"id": i, "p": float(n % 2)} for n, i in enumerate(split.ids)))


def _wait_all(queue, ids: list[str]) -> None:
    while not all(queue.view(i).state.finished for i in ids):
        time.sleep(0.05)


def overhead(n: int) -> dict[str, float]:
    from mcp_servers.core import create_sqlite_engine
    from mcp_servers.jobs import JobQueue, JobRunner

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "jobs.db"
        queue = JobQueue(create_sqlite_engine(db))
        with JobRunner(queue, db, slots=1, poll_s=0.02, preload=()):
            warm = queue.submit("w", "sleep", "mcp_servers.jobs.builtin:sleep_job", {"seconds": 0}, Path(tmp) / "w")
            _wait_all(queue, [warm.id])
            latencies = []
            for i in range(n):
                started = time.perf_counter()
                job = queue.submit(f"a{i % 3}", "sleep", "mcp_servers.jobs.builtin:sleep_job", {"seconds": 0},
                                   Path(tmp) / str(i))
                _wait_all(queue, [job.id])
                latencies.append(time.perf_counter() - started)
                if queue.view(job.id).state != "succeeded":
                    raise RuntimeError(f"no-op job failed: {queue.view(job.id).error}")
    return {"median_ms": 1000 * statistics.median(latencies), "max_ms": 1000 * max(latencies)}


def through_runner(n_jobs: int, steps: int, slots: int) -> float:
    from mcp_servers.core import create_sqlite_engine
    from mcp_servers.jobs import JobQueue, JobRunner
    from trainer import paths

    db = paths().state_dir / f"bench-{slots}.db"
    queue = JobQueue(create_sqlite_engine(db))
    with JobRunner(queue, db, slots=slots, poll_s=0.05) as runner:
        del runner
        started = time.perf_counter()
        ids = []
        for i in range(n_jobs):
            run_dir = paths().workspaces_dir / f"agent{i % 3}" / "runs" / f"s{slots}-{i}"
            _write_labels(run_dir)
            ids.append(queue.submit(f"agent{i % 3}", "train", "mcp_servers.train._recipes:run_sft_job",
                                    _sft_spec(steps), run_dir).id)
        _wait_all(queue, ids)
        wall = time.perf_counter() - started
    failed = [queue.view(i).error for i in ids if queue.view(i).state != "succeeded"]
    if failed:
        raise RuntimeError(f"jobs failed: {failed[:2]}")
    return wall


def in_process(n_jobs: int, steps: int) -> float:
    from trainer.data import load_split
    from trainer.training import TrainConfig, train

    started = time.perf_counter()
    split = load_split("sentiment", "train_unlabel")
    labels = [float(n % 2) for n in range(len(split))]
    for i in range(n_jobs):
        with tempfile.TemporaryDirectory() as tmp:
            config = TrainConfig.from_dict(_sft_spec(steps)["config"])
            train(config, split.rows, labels, Path(tmp))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=6)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--slots", default="1,2")
    parser.add_argument("--overhead-jobs", type=int, default=20)
    parser.add_argument("--overhead-only", action="store_true", help="only the no-op job latency (seconds, not minutes)")
    args = parser.parse_args()
    if args.overhead_only:
        print(json.dumps({"scheduler_overhead": overhead(args.overhead_jobs)}, indent=2))
        return
    with tempfile.TemporaryDirectory() as tmp:
        _setup(Path(tmp))
        report: dict = {"scheduler_overhead": overhead(args.overhead_jobs)}
        baseline = in_process(args.jobs, args.steps)
        report["one_process_sequential_s"] = round(baseline, 2)
        for slots in (int(s) for s in args.slots.split(",")):
            wall = through_runner(args.jobs, args.steps, slots)
            report[f"runner_slots{slots}_s"] = round(wall, 2)
            report[f"runner_slots{slots}_vs_sequential"] = round(wall / baseline, 3)
    report["cpus"] = os.cpu_count()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
