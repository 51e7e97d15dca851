"""The evolve agent end to end against the five real servers on loopback ports (child processes, one W2S_HOME),
on the tiny sentiment testbed with the trainer's `smoke` preset: it submits, posts a finding citing the
submission, uploads a snapshot, writes NOTEBOOK.md, prints JSON events, and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcp_servers.core import TokenStore
from mcp_servers.grader import Calibration, write_calibration
from mcp_servers.grader._service import GraderSettings
from mcp_servers.grader.datasets._build import build_testbed
from sandbox import prepare_workspace
from tests.mcp_servers.compute_fixtures import _public_readable
from tests.mcp_servers.server_helpers import REPO, ServerProcess, free_port
from tests.skips import require_bwrap
from trainer import paths

SERVERS = ("grader", "findings", "snapshot", "train", "predict")


@pytest.fixture
def stack(w2s_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, object]]:
    """Jobs run in real bubblewrap sandboxes, as under `orchestrator launch` (the agent itself runs unsandboxed
    here: what is tested is that it acts through the servers alone)."""
    require_bwrap()
    for var in ("W2S_TOKEN", "W2S_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    build_testbed("sentiment", "tiny", seed=0)
    _public_readable(paths().data_dir)
    settings = GraderSettings()
    write_calibration(settings.label_store, "sentiment", Calibration(weak_acc=0.55, strong_acc=0.9, seeds=1,
                                                                     source="test"))
    token = TokenStore(settings.tokens_db).mint("evo", ["grader", "findings", "snapshot", "train", "predict"])
    extra = {"W2S_RAW_DIR": os.environ["W2S_RAW_DIR"], "W2S_MODELS_DIR": os.environ["W2S_MODELS_DIR"],
             "W2S_COMPUTE_SLOTS": "1", "W2S_SANDBOX": "bwrap", "OMP_NUM_THREADS": "1"}
    procs = [ServerProcess(f"mcp_servers.{name}", w2s_home, free_port(), **extra) for name in SERVERS]
    try:
        for proc in procs:
            proc.start()
        workspace = prepare_workspace(w2s_home / "workspaces" / "evo")
        yield {"home": w2s_home, "token": token, "workspace": workspace,
               "urls": {name: proc.url for name, proc in zip(SERVERS, procs, strict=True)}}
    finally:
        for proc in procs:
            proc.stop()


def agent_env(stack: dict[str, object]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("W2S_")}
    env.update(W2S_HOME=str(stack["home"]), W2S_MODELS_DIR=os.environ["W2S_MODELS_DIR"], PYTHONPATH=str(REPO),
               W2S_TOKEN=str(stack["token"]), OMP_NUM_THREADS="1")
    env.update({f"W2S_{name.upper()}_URL": url for name, url in stack["urls"].items()})  # type: ignore[attr-defined]
    return env


@pytest.mark.slow
def test_agent_submits_shares_snapshots_and_stops_on_sigterm(stack: dict[str, object]) -> None:
    workspace = Path(str(stack["workspace"]))
    until = time.time() + 420
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator.agents.evolve", "--dataset", "sentiment", "--until", str(until),
         "--seed", "0", "--direction", "distillation", "--population", "2", "--preset", "smoke", "--margin", "5"],
        cwd=workspace, env=agent_env(stack), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    events: list[dict[str, object]] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            events.append(json.loads(line))  # every stdout line is one JSON event
            if events[-1]["event"] == "snapshot":
                proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = proc.stderr.read() if proc.stderr else ""
    assert proc.returncode == 0, stderr[-3000:]
    assert time.time() < until
    kinds = [e["event"] for e in events]
    assert {"tool_call", "submission", "finding", "snapshot", "log", "done"} <= set(kinds), kinds
    assert kinds[-1] == "done" and events[-1]["reason"] == "stopped"
    submission = next(e for e in events if e["event"] == "submission")
    finding = next(e for e in events if e["event"] == "finding")
    assert finding["submission_id"] == submission["submission_id"] and submission["improved"] is True
    snapshot = next(e for e in events if e["event"] == "snapshot")
    assert snapshot["submission_id"] == submission["submission_id"]
    assert events[-1]["submissions"] >= 1 and events[-1]["findings"] >= 1 and events[-1]["snapshots"] >= 1
    calls = [e for e in events if e["event"] == "tool_call"]
    assert {(c["server"], c["tool"]) for c in calls} >= {
        ("grader", "list_datasets"), ("train", "start_training"), ("train", "wait_job"), ("predict", "predict"),
        ("predict", "read_predictions"), ("grader", "submit_predictions"), ("findings", "post_finding"),
        ("snapshot", "upload_snapshot")}
    assert str(stack["token"]) not in "".join(json.dumps(e) for e in events) + stderr
    notebook = (workspace / "NOTEBOOK.md").read_text()
    assert "## Submissions" in notebook and f"| {submission['submission_id']} |" in notebook

    # The records live on the servers, not in the agent's word: the finding cites the grader's submission.
    import asyncio

    from tests.mcp_servers.compute_fixtures import call, http_client

    async def records() -> tuple[dict, dict]:
        urls = stack["urls"]
        async with http_client(urls["findings"], str(stack["token"])) as findings:  # type: ignore[index]
            view = await call(findings, "read_finding", finding_id=finding["finding_id"])
        async with http_client(urls["snapshot"], str(stack["token"])) as snapshots:  # type: ignore[index]
            page = await call(snapshots, "list_snapshots", finding_id=finding["finding_id"])
        return view, page

    view, page = asyncio.run(records())
    assert [s["submission_id"] for s in view["submissions"]] == [submission["submission_id"]]
    assert view["method_family"] == "evolutionary" and view["config"]["idea"] == submission["idea"]
    assert [s["id"] for s in page["items"]] == [snapshot["snapshot_id"]]
