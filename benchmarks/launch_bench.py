"""`orchestrator launch` on CPU: seconds from the command to every agent's first tool call, memory per agent, and
the offline evolve agent's best public PGR after M minutes against vanilla_w2s scored by the same grader.

    python benchmarks/launch_bench.py --n 9                      # start-up: a fresh W2S_HOME with a tiny testbed
    python benchmarks/launch_bench.py --n 1 --pgr-minutes 10,30  # research: the operator's calibrated `sentiment`

Start-up runs the real thing: five servers, n bwrap sandboxes, the evolve agents; the clock starts before the
`launch` command and stops at the last agent's first tool call (host time stamps of the transcripts). Memory is the
resident set of each agent's sandbox (bwrap and every process below it) when all have called a tool, and again
`--settle` seconds later. The research part launches `--n` evolve agents for each duration on the operator's
home (where the dataset is calibrated, so the grader reports PGR) and prints the best public PGR of the launch
next to vanilla_w2s's (`w2s-admin demo --idea vanilla_w2s`, the same grader library, same split).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _cli(*args: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orchestrator.cli", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def _rss_tree(pid: int) -> int:
    """Resident kB of a process and all its descendants."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) if "VmRSS" in status else 0  # type: ignore[union-attr]
            for task in Path(f"/proc/{current}/task").iterdir():
                stack += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, AttributeError):
            continue
    return total


def _state(home: Path) -> Path:
    return home / "private" / "state"


def _first_calls(state: Path, launch_id: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for transcript in sorted((state / "transcripts" / launch_id).glob("*/session-*.jsonl")):
        for line in transcript.read_text().splitlines():
            record = json.loads(line)
            event = record.get("event") or {}
            if event.get("event") == "tool_call" or (event.get("event") == "message" and "tool_use" in line):
                found.setdefault(transcript.parent.name, record["at"])
                break
    return found


def _latest(state: Path) -> tuple[str, list[tuple[str, int | None]]]:
    with sqlite3.connect(state / "orchestrator.db") as conn:
        (launch_id,) = conn.execute("SELECT id FROM launch ORDER BY started_at DESC LIMIT 1").fetchone()
        agents = conn.execute("SELECT name, pid FROM agent WHERE launch_id=? ORDER BY name", (launch_id,)).fetchall()
    return launch_id, agents


def startup(n: int, settle: float, timeout: float) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="launch-bench-") as tmp:
        home = Path(tmp) / "w2s"
        from trainer import paths

        operator = paths()
        env = dict(os.environ, W2S_HOME=str(home), W2S_RAW_DIR=str(operator.raw_dir),
                   W2S_MODELS_DIR=str(operator.models_dir), PYTHONPATH=str(REPO), W2S_LITESTREAM="false",
                   OMP_NUM_THREADS="1")
        env.pop("ANTHROPIC_API_KEY", None)
        build = "from mcp_servers.grader.datasets._build import build_testbed; build_testbed('sentiment', 'tiny', seed=0)"
        subprocess.run([sys.executable, "-c", build], env=env, cwd=REPO, check=True)
        started = time.time()
        done = _cli("launch", "--n", str(n), "--agent", "evolve", "--minutes", "30", "--base-port", "18400",
                    env=env, timeout=timeout)
        if done.returncode != 0:
            raise SystemExit(f"launch failed: {done.stdout[-2000:]} {done.stderr[-2000:]}")
        returned = time.time() - started
        try:
            state = _state(home)
            launch_id, agents = _latest(state)
            deadline = time.time() + timeout
            while len(firsts := _first_calls(state, launch_id)) < n and time.time() < deadline:
                time.sleep(0.5)
            all_called = max(firsts.values()) - started if len(firsts) == n else None
            rss_first = [_rss_tree(pid) for _, pid in agents if pid]
            time.sleep(settle)
            rss_later = [_rss_tree(pid) for _, pid in _latest(state)[1] if pid]
        finally:
            _cli("stop", env=env, timeout=300)
    return {"n": n, "launch_returned_s": round(returned, 1),
            "first_tool_call_s": {k: round(v - started, 1) for k, v in sorted(firsts.items())},
            "all_agents_first_tool_call_s": None if all_called is None else round(all_called, 1),
            "goal_s": 60, "agent_rss_mb_at_first_calls": round(statistics.mean(rss_first) / 1024, 1),
            f"agent_rss_mb_after_{settle:.0f}s": {"mean": round(statistics.mean(rss_later) / 1024, 1),
                                                   "max": round(max(rss_later) / 1024, 1)}}


def _home_env(home: Path | None) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    env.pop("ANTHROPIC_API_KEY", None)
    if home is not None:
        env["W2S_HOME"] = str(home)
    return env


def research(n: int, minutes: float, dataset: str, evolve_args: str, home: Path | None) -> dict[str, object]:
    """Launch for `minutes` on a calibrated home, then the launch's best public PGR (the grader's number)."""
    env = _home_env(home)
    started = time.time()
    done = _cli("launch", "--n", str(n), "--agent", "evolve", "--dataset", dataset, "--minutes", str(minutes),
                "--follow", "--base-port", "18420", "--agent-args", evolve_args, env=env, timeout=minutes * 60 + 900)
    state = (home / "private" / "state") if home is not None else _operator_state()
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(started))
    with sqlite3.connect(f"file:{state / 'grader.db'}?mode=ro", uri=True) as conn:
        best, count = conn.execute("SELECT MAX(reported_pgr), COUNT(*) FROM grader_submission WHERE dataset=? AND "
                                   "created_at>=? AND agent LIKE 'evolve%'", (dataset, since)).fetchone()
        # The evolve agent's first candidate is vanilla_w2s itself: its submission is the same-run baseline.
        ideas = dict(conn.execute("SELECT idea, MAX(reported_pgr) FROM grader_submission WHERE dataset=? AND "
                                  "created_at>=? AND agent LIKE 'evolve%' GROUP BY idea", (dataset, since)).fetchall())
    return {"minutes": minutes, "agents": n, "best_public_pgr": best, "submissions": count, "per_idea": ideas,
            "launch_rc": done.returncode, "wall_s": round(time.time() - started)}


def _operator_state() -> Path:
    from trainer import paths

    return paths().state_dir


def vanilla(dataset: str, home: Path | None) -> float | None:
    """vanilla_w2s's PGR scored by the grader's library (`w2s-admin demo`), seed 0."""
    with tempfile.TemporaryDirectory(prefix="vanilla-") as runs:
        done = subprocess.run([sys.executable, "-m", "mcp_servers.admin", "demo", "--dataset", dataset, "--idea",
                               "vanilla_w2s", "--runs", runs], cwd=REPO, capture_output=True, text=True, check=False,
                              env=_home_env(home))
    rows = [line for line in done.stdout.splitlines() if line.startswith(f"| {dataset} | vanilla_w2s")]
    return float(rows[-1].strip("| ").split("|")[-1]) if rows else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=9)
    parser.add_argument("--settle", type=float, default=30.0)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--pgr-minutes", default="", help="comma-separated durations of the research runs")
    parser.add_argument("--dataset", default="sentiment")
    parser.add_argument("--evolve-args", default="")
    parser.add_argument("--skip-startup", action="store_true")
    parser.add_argument("--home", type=Path, default=None,
                        help="W2S_HOME of the research runs (its dataset calibrated); default the operator's")
    parser.add_argument("--vanilla-pgr", type=float, default=None, help="skip the vanilla_w2s run: this PGR")
    args = parser.parse_args()
    if not args.skip_startup:
        print(json.dumps({"startup": startup(args.n, args.settle, args.timeout)}), flush=True)
    durations = [float(m) for m in args.pgr_minutes.split(",") if m.strip()]
    if durations:
        base = args.vanilla_pgr if args.vanilla_pgr is not None else vanilla(args.dataset, args.home)
        print(json.dumps({"vanilla_w2s_pgr": base}), flush=True)
        for minutes in durations:
            result = research(args.n, minutes, args.dataset, args.evolve_args, args.home)
            best = result["best_public_pgr"]
            result["vs_vanilla"] = None if best is None or base is None else round(float(best) - base, 3)  # type: ignore[arg-type]
            print(json.dumps({"research": result}), flush=True)


if __name__ == "__main__":
    main()
