"""The Claude path without a key: the REAL claude CLI (bundled in claude-agent-sdk), in a REAL bwrap sandbox, driven
by a scripted stand-in of the Messages API behind the agent's host-side proxy, calls real MCP tools; the
transcript, token usage and cost land in the orchestrator database."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mcp_servers.grader.datasets._build import build_testbed
from orchestrator._db import StateDB
from orchestrator._shell import bundled_claude
from orchestrator.agents.claude_runner import EXIT_INPUT, not_connected
from tests.mcp_servers.server_helpers import REPO
from tests.orchestrator.launch_helpers import base_port, cli, cli_env, count, wait_for
from tests.orchestrator.scripted_api import ScriptedAPI, find_int
from trainer import paths

FAKE_KEY = "sk-ant-test-not-a-real-key"


def test_init_message_check_names_the_missing_servers() -> None:
    data = {"mcp_servers": [{"name": "grader", "status": "connected"}, {"name": "train", "status": "failed"}]}
    assert not_connected(data, {"grader", "train", "predict"}) == ["predict (missing)", "train (failed)"]
    assert not_connected(data, {"grader"}) == []


def test_bad_session_config_is_a_clear_error() -> None:
    done = subprocess.run([sys.executable, "-m", "orchestrator.agents.claude_runner"], input=b'{"prompt": ""}',
                          capture_output=True, cwd=REPO, env={"PATH": "/usr/bin:/bin", "W2S_TOKEN": "w2s_x"},
                          timeout=60, check=False)
    assert done.returncode == EXIT_INPUT
    assert json.loads(done.stdout)["reason"].startswith("bad session config on stdin")


@pytest.mark.slow
def test_claude_agent_calls_real_tools_through_the_proxy(w2s_home: Path) -> None:
    assert bundled_claude() is not None, "claude-agent-sdk's bundled CLI is missing"
    build_testbed("sentiment", "tiny", seed=0)
    rows = sum(1 for _ in (paths().data_dir / "sentiment" / "test.jsonl").open())
    script = [
        lambda results: ("mcp__grader__list_datasets", {}),
        lambda results: ("mcp__grader__submit_predictions", {"dataset": "sentiment", "predictions": [1.0] * rows,
                                                              "idea": "scripted-all-ones"}),
        lambda results: ("mcp__findings__post_finding", {
            "title": "All-ones baseline", "summary": "Predicting 1 everywhere.", "body": "Scripted.",
            "finding_type": "negative", "idea": "scripted-all-ones", "method_family": "other",
            "submission_ids": [find_int(results[-1], "submission_id")]}),
    ]
    with ScriptedAPI(script) as api:
        env = cli_env(ANTHROPIC_API_KEY=FAKE_KEY, W2S_ANTHROPIC_UPSTREAM=api.url)
        started = cli("launch", "--n", "1", "--agent", "claude", "--minutes", "10", "--budget-usd", "5",
                      "--max-turns", "10", "--sandbox", "bwrap", "--base-port", str(base_port()), env=env, timeout=400)
        assert started.returncode == 0, started.stdout + started.stderr
        db = StateDB()
        launch = db.launch()
        assert launch is not None
        try:
            wait_for("the first session to end", lambda: any(
                s.ended_at for s in db.sessions("claude1", launch.id)), 300, 0.5)
        finally:
            stopped = cli("stop", env=env, timeout=180)
        assert stopped.returncode == 0, stopped.stdout
    first = db.sessions("claude1", launch.id)[0]
    assert first.exit_code == 0 and first.exit_reason == "finished" and first.num_turns >= 3, first
    # The tools ran for real: a graded submission and a finding by this agent, citing it.
    assert count("grader.db", "SELECT COUNT(*) FROM grader_submission WHERE agent='claude1'") >= 1
    assert count("findings.db", "SELECT COUNT(*) FROM findings_finding WHERE agent='claude1'") >= 1
    # Every model call went through the proxy with the real key swapped in; the sandbox only held a proxy key.
    turns = [r for r in api.requests if r["body"].get("tools")]
    assert len(turns) >= 4 and all(r["headers"].get("x-api-key") == FAKE_KEY for r in api.requests)
    system = json.dumps(turns[0]["body"].get("system", ""))
    assert "weak-to-strong" in system and "Elicit the strong model" in system
    calls = db.calls("claude1", launch.id)
    assert len(calls) >= 4 and all(c.status == 200 and c.cost_usd > 0 for c in calls)
    agent = db.agent("claude1")
    assert agent is not None and agent.cost_usd == pytest.approx(sum(c.cost_usd for c in calls))
    assert agent.input_tokens >= 4000 and agent.state in ("stopped", "done")
    # The transcript lives on the host, outside the workspace, and holds the tool calls and the result.
    transcript = Path(first.transcript)
    assert transcript.is_file() and not transcript.is_relative_to(paths().workspaces_dir)
    events = [json.loads(line)["event"] for line in transcript.read_text().splitlines()]
    kinds = [e.get("event") for e in events if e]
    assert "result" in kinds and FAKE_KEY not in transcript.read_text()
    names = json.dumps(events)
    assert "mcp__grader__submit_predictions" in names and "mcp__findings__post_finding" in names
