"""The command line: arguments checked, JSON events on stdout, a deadline already past ends at once and cleanly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator.agents.evolve._cli import parse
from tests.mcp_servers.server_helpers import REPO, free_port


def test_parse_checks_arguments() -> None:
    args = parse(["--dataset", "sentiment", "--until", "123.5", "--direction", "open"])
    assert (args.dataset, args.until, args.seed, args.direction, args.population) == ("sentiment", 123.5, 0, "open", 6)
    with pytest.raises(SystemExit):
        parse(["--dataset", "sentiment", "--until", "1", "--population", "0"])
    with pytest.raises(SystemExit):
        parse(["--until", "1"])


def run(tmp_path: Path, until: float, token: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("W2S_")} | {"PYTHONPATH": str(REPO)}
    port = free_port()
    env |= {f"W2S_{s}_URL": f"http://127.0.0.1:{port}" for s in ("GRADER", "FINDINGS", "SNAPSHOT", "TRAIN", "PREDICT")}
    if token:
        env["W2S_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "orchestrator.agents.evolve", "--dataset", "sentiment",
                           "--until", str(until)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def test_a_past_deadline_ends_at_once_with_a_done_event(tmp_path: Path) -> None:
    done = run(tmp_path, time.time() - 1, "w2s_tok")
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert events[-1]["event"] == "done" and events[-1]["reason"] == "deadline" and events[-1]["submissions"] == 0
    assert (tmp_path / "NOTEBOOK.md").is_file()


def test_no_token_is_a_clear_message(tmp_path: Path) -> None:
    done = run(tmp_path, time.time() + 60, None)
    assert done.returncode != 0 and "W2S_TOKEN is not set" in done.stderr
