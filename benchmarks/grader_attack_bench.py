"""Grader attack benchmark: what an adaptive climb learns per 1,000 submissions under the grader's defaults and a
few alternatives, and what an honest agent loses (how often a real 1-2 point improvement is reported).

    python benchmarks/grader_attack_bench.py [--groups 350] [--probes 1000] [--seeds 3] [--honest 200]

The test set mimics `sentiment` (about 700 rows in consistency pairs, ID and OOD subsets, half public). The
climb (tests/mcp_servers/grader/attacks.py) re-orients 1-8 random groups of its kept vector per submission and
keeps a change whenever any part says `improved`. Each setting runs on the library grader (`Grader.submit`, the
same code the MCP tool calls) in a temporary W2S_HOME, with the rate limits lifted so that a run takes seconds
(the rate adds wall-clock time, not information; its cost is stated separately). Figures: labels recovered
beyond the climb's start (public, private), mean [min, max] over seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SETTINGS: dict[str, dict[str, Any]] = {
    "defaults (budget 100)": {},
    "defaults, budget lifted": {"max_submissions": 0},
    "no withholding, budget lifted": {"max_submissions": 0, "withhold_flagged": False},
    "no withholding, noise 0.005": {"max_submissions": 0, "withhold_flagged": False, "ladder_noise": 0.005},
    "no withholding, step 0.02": {"max_submissions": 0, "withhold_flagged": False, "ladder_step": 0.02},
    "exact scores (no Ladder)": {"max_submissions": 0, "withhold_flagged": False, "ladder_step": 0.0},
}
VARIANTS: tuple[tuple[str, int, tuple[int, ...]], ...] = (
    ("8-16 groups per probe", 0, (8, 12, 16)),
    ("8-16 groups + decoys of 100 groups", 100, (8, 12, 16)),
    ("20-30 groups + decoys of 100 groups", 100, (20, 30)),
)
UNLIMITED_RATE = {"rate_limit_per_minute": 0, "rate_limit_per_hour": 0}


def _setup(home: Path, groups: int) -> None:
    os.environ.update(W2S_HOME=str(home), W2S_LITESTREAM="false")
    from _grader_data import prepare_pairs

    from mcp_servers.grader import Calibration, SliceCalibration, write_calibration
    from mcp_servers.grader._service import GraderSettings

    prepare_pairs(home, groups, ood_every=3)
    settings = GraderSettings()
    write_calibration(settings.label_store, "bench", Calibration(
        weak_acc=0.6, strong_acc=0.9, seeds=1, source="bench",
        slices={"id": SliceCalibration(weak_acc=0.6, strong_acc=0.9),
                "ood": SliceCalibration(weak_acc=0.55, strong_acc=0.85)}))


class Bench:
    def __init__(self) -> None:
        from mcp_servers.core import Identity, create_sqlite_engine
        from mcp_servers.grader._service import GraderSettings
        from mcp_servers.grader.datasets import LabelStore
        from trainer import paths

        self.Identity, self.engine_for = Identity, create_sqlite_engine
        base = GraderSettings()
        self.db_dir = base.state_dir
        labels = LabelStore(base.label_store).load("bench", "test")
        self.truth = labels.labels
        rows = [json.loads(line) for line in (paths().data_dir / "bench" / "test.jsonl").read_text().splitlines()]
        from tests.mcp_servers.grader.attacks import consistency_groups

        self.groups = consistency_groups(rows)
        self.count = 0

    def grader(self, overrides: dict[str, Any]) -> Any:
        from mcp_servers.grader._service import Grader, GraderSettings

        self.count += 1
        settings = GraderSettings(**(UNLIMITED_RATE | overrides))
        return Grader(settings, self.engine_for(self.db_dir / f"bench-{self.count}.db"))

    def agent(self) -> Any:
        self.count += 1
        return self.Identity(f"agent-{self.count}", frozenset({"grader"}))


def climb(bench: Bench, overrides: dict[str, Any], probes: int, seed: int, dilute: int = 0,
          sizes: tuple[int, ...] = (1, 2, 3, 5, 8)) -> Any:
    from mcp_servers.grader._service import GraderError
    from tests.mcp_servers.grader.attacks import GroupClimb, consistent_start, run_climb

    grader = bench.grader(overrides)
    _, mask = grader.test_labels("bench")
    who = bench.agent()
    attack = GroupClimb(bench.groups, consistent_start(bench.groups, bench.truth, 0.75, seed), seed=seed,
                        dilute=dilute, sizes=sizes)
    grader.submit(who, "bench", attack.vector, idea="start")

    def submit(preds: list[float]) -> dict[str, Any]:
        return grader.submit(who, "bench", preds, idea="climb").model_dump()

    return run_climb(submit, attack, bench.truth, [bool(m) for m in mask], probes, GraderError)


def honest(bench: Bench, overrides: dict[str, Any], gain: float, trials: int) -> float:
    """Share of trials in which a model `gain` better (whole test, in expectation) is reported as improved."""
    from tests.mcp_servers.grader.attacks import honest_models

    grader, hits = bench.grader(overrides), 0
    for t in range(trials):
        old, new = honest_models(bench.truth, 0.75, gain, 0.15, seed=t)
        who = bench.agent()
        grader.submit(who, "bench", old, idea="v1")
        hits += grader.submit(who, "bench", new, idea="v2").overall.improved
    return hits / trials


def honest_flags(bench: Bench, overrides: dict[str, Any], agents: int, count: int) -> float:
    """Share of honest submissions (different models, `count` per agent) that carry any flag."""
    from tests.mcp_servers.grader.attacks import honest_sequence

    grader, flagged = bench.grader(overrides), 0
    for a in range(agents):
        who = bench.agent()
        for preds in honest_sequence(bench.truth, count, seed=a):
            flagged += bool(grader.submit(who, "bench", preds, idea="honest").flags)
    return flagged / (agents * count)


def _fmt(values: list[int], scale: float) -> str:
    scaled = [v * scale for v in values]
    return f"{statistics.mean(scaled):+.1f} [{min(scaled):+.0f}, {max(scaled):+.0f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=350, help="consistency pairs in the test set")
    parser.add_argument("--probes", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--honest", type=int, default=200, help="trials per honest figure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        _setup(Path(tmp), args.groups)
        bench = Bench()
        from mcp_servers.grader._service import GraderSettings

        _, mask = bench.grader({}).test_labels("bench")
        defaults = GraderSettings()
        print(f"test rows {len(bench.truth)}, public {int(mask.sum())}; defaults: ladder_step {defaults.ladder_step}, "
              f"budget {defaults.max_submissions}/agent/dataset, rate {defaults.rate_limit_per_minute}/min and "
              f"{defaults.rate_limit_per_hour}/h, withhold_flagged {defaults.withhold_flagged}")
        scale = 1000 / args.probes
        print("\n| setting | public labels / 1,000 | private / 1,000 | submissions scored | improved | flagged "
              "| climb-flagged | honest +1 pt seen | honest +2 pt seen | honest flagged |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for name, overrides in SETTINGS.items():
            runs = [climb(bench, overrides, args.probes, seed) for seed in range(args.seeds)]
            one, two = (honest(bench, overrides, g, args.honest) for g in (0.01, 0.02))
            fp = honest_flags(bench, overrides, agents=max(1, args.honest // 20), count=20)
            print(f"| {name} | {_fmt([r.public_gain for r in runs], scale)} | "
                  f"{_fmt([r.private_gain for r in runs], scale)} | "
                  f"{statistics.mean(r.submissions for r in runs):.0f} | "
                  f"{statistics.mean(r.improved for r in runs):.1f} | {statistics.mean(r.flagged for r in runs):.0f} | "
                  f"{statistics.mean(r.climb_flagged for r in runs):.0f} | {one:.0%} | {two:.0%} | {fp:.1%} |",
                  flush=True)
        print("\nAdaptive variants (budget lifted): bigger moves, and decoys (far-off submissions between probes, "
              "to dilute the detector's star ratio)\n")
        print("| setting | climb | public labels / 1,000 | private / 1,000 | improved | climb-flagged |")
        print("| --- | --- | --- | --- | --- | --- |")
        for name in ("defaults, budget lifted", "no withholding, budget lifted"):
            for label, dilute, sizes in VARIANTS:
                runs = [climb(bench, SETTINGS[name], args.probes, seed, dilute, sizes) for seed in range(args.seeds)]
                print(f"| {name} | {label} | {_fmt([r.public_gain for r in runs], scale)} | "
                      f"{_fmt([r.private_gain for r in runs], scale)} | "
                      f"{statistics.mean(r.improved for r in runs):.1f} | "
                      f"{statistics.mean(r.climb_flagged for r in runs):.0f} |", flush=True)


if __name__ == "__main__":
    main()
