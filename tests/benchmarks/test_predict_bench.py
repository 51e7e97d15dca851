"""The prediction benchmark at a tiny size, so its consistency check (batched sorted == per-example == batched
unsorted) keeps holding and the figures docs/trainer.md quotes stay reproducible."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import _OPERATOR

REPO = Path(__file__).resolve().parents[2]


def test_tiny_predict_bench_agrees_and_reports_ratios(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("W2S_")} | {
        "OMP_NUM_THREADS": "1", "W2S_HOME": str(tmp_path / "w2s"), "W2S_MODELS_DIR": str(_OPERATOR.models_dir)}
    command = [sys.executable, "benchmarks/predict_bench.py", "--rows", "12", "--batch", "4"]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout[done.stdout.index("{"):])
    assert figures["rows"] == 12 and figures["batch"] == 4
    assert figures["speedup_vs_per_example"] > 0 and figures["speedup_vs_unsorted"] > 0
