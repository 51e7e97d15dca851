"""A simulated 9-agent load on a local 3-node Ray cluster versus the local runner, same machine, same run.

Every agent queues the same jobs at once (the builtin `sleep` job: a real bwrap sandbox per job, progress lines,
a result; no model, so the figures measure scheduling, not training). Both runners get the same number of
concurrent jobs: the local runner `--slots` slots, the cluster `--slots` worker nodes of one CPU each behind a
head that schedules nothing (head + workers = 3 nodes at the default). Printed: makespan, throughput (jobs/s), queue
wait (created -> started) and per-job overhead (started -> finished minus the sleep), and the Ray/local ratios.
The cluster's start (printed) is outside the measured window; the first job on each node pays its Ray worker's start.

    python benchmarks/ray_bench.py [--agents 9] [--jobs-per-agent 2] [--seconds 1.0] [--slots 2] [--backend bwrap]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

SLEEP = "trainer.jobs.builtin:sleep_job"


def _box(home: Path, backend: str) -> Any:
    from mcp_servers.jobs import JobSandbox

    data = home / "public" / "data"
    data.mkdir(parents=True, exist_ok=True)
    (home / "workspaces").mkdir(exist_ok=True)
    return JobSandbox(workspaces_dir=home / "workspaces", data_dir=data, backend_name=backend)


def _load(runner_factory: Any, home: Path, agents: int, per_agent: int, seconds: float) -> dict[str, float]:
    from mcp_servers.core import create_sqlite_engine
    from mcp_servers.jobs import JobQueue, JobState, Quotas

    queue = JobQueue(create_sqlite_engine(home / "jobs.db"), Quotas(max_queued_per_agent=per_agent + 1),
                     workspaces_dir=home / "workspaces")
    runner = runner_factory(queue)
    with runner:
        started = time.monotonic()
        ids = [queue.submit(f"agent-{a}", "sleep", SLEEP, {"seconds": seconds, "steps": 2}).id
               for _ in range(per_agent) for a in range(agents)]
        while not all(queue.view(i).state.finished for i in ids):
            time.sleep(0.05)
        makespan = time.monotonic() - started
    views = [queue.view(i) for i in ids]
    bad = [v for v in views if v.state != JobState.SUCCEEDED]
    if bad:
        raise SystemExit(f"{len(bad)} jobs did not succeed, e.g. {bad[0].id}: {bad[0].error}")
    waits = [(v.started_at - v.created_at).total_seconds() for v in views]
    runs = [(v.finished_at - v.started_at).total_seconds() for v in views]
    return {"jobs": len(ids), "makespan_s": round(makespan, 2), "jobs_per_s": round(len(ids) / makespan, 3),
            "wait_mean_s": round(statistics.mean(waits), 2), "wait_max_s": round(max(waits), 2),
            "overhead_mean_s": round(statistics.mean(runs) - seconds, 2),
            "overhead_median_s": round(statistics.median(runs) - seconds, 2), "slots": runner.slots}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=9)
    parser.add_argument("--jobs-per-agent", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--slots", type=int, default=2, help="concurrent jobs: local slots = Ray worker nodes")
    parser.add_argument("--backend", default="bwrap", help="the sandbox backend of every job")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from mcp_servers.jobs import JobRunner

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="ray-bench-") as tmp:
        home = Path(tmp) / "local"
        home.mkdir()
        box = _box(home, args.backend)
        results["local"] = _load(lambda q: JobRunner(q, box, slots=args.slots, poll_s=0.1), home, args.agents,
                                 args.jobs_per_agent, args.seconds)

        import ray
        from ray.cluster_utils import Cluster

        from mcp_servers.jobs import RayJobRunner

        memory = {"object_store_memory": 78 * 1024 * 1024}
        t0 = time.monotonic()
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False, **memory})
        for _ in range(args.slots):
            cluster.add_node(num_cpus=1, **memory)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False, configure_logging=False)
        cluster_start = time.monotonic() - t0
        try:
            home = Path(tmp) / "ray"
            home.mkdir()
            box = _box(home, args.backend)
            results["ray"] = _load(lambda q: RayJobRunner(q, box, num_cpus=1, poll_s=0.1), home, args.agents,
                                   args.jobs_per_agent, args.seconds)
            results["ray"]["cluster_start_s"] = round(cluster_start, 1)
            results["ray"]["nodes"] = 1 + args.slots
        finally:
            ray.shutdown()
            cluster.shutdown()
    local, on_ray = results["local"], results["ray"]
    results["ratio_ray_over_local"] = {
        "jobs_per_s": round(on_ray["jobs_per_s"] / local["jobs_per_s"], 3),
        "wait_mean_s": round(on_ray["wait_mean_s"] / max(local["wait_mean_s"], 1e-9), 3),
        "overhead_mean_s": round(on_ray["overhead_mean_s"] / max(local["overhead_mean_s"], 1e-9), 3),
        "overhead_median_s": round(on_ray["overhead_median_s"] / max(local["overhead_median_s"], 1e-9), 3)}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
