"""`orchestrator launch` end to end with the offline evolve agents on a tiny testbed, in real bwrap sandboxes:
graded submissions, findings synced into every workspace, a snapshot, the status table, a crashed agent and a
crashed grader restarted, a clean stop with no process left and the launch's tokens revoked."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest

from mcp_servers.core import ServerSettings, TokenStore
from mcp_servers.grader.datasets._build import build_testbed
from orchestrator._db import StateDB
from orchestrator._options import LaunchError, LaunchOptions, check_options
from orchestrator._services import Service, load_record, pid_is
from tests.orchestrator.launch_helpers import base_port, cli, cli_env, count, processes_with_env, wait_for
from trainer import paths

EVOLVE_ARGS = "--population 2 --brood 1 --preset smoke --margin 5"


def test_bad_launches_are_refused_before_anything_starts(w2s_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build_testbed("sentiment", "tiny", seed=0)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    for opts, words in [
        (LaunchOptions(n=1, kind="claude", dataset="sentiment", duration_s=60), "ANTHROPIC_API_KEY"),
        (LaunchOptions(n=1, kind="evolve", dataset="nope", duration_s=60), "unknown dataset 'nope'"),
        (LaunchOptions(n=1, kind="evolve", dataset="sentiment", duration_s=60, sandbox="none"),
         "--unsafe-no-sandbox"),
        (LaunchOptions(n=0, kind="evolve", dataset="sentiment", duration_s=60), "between 1 and 64"),
        (LaunchOptions(n=1, kind="evolve", dataset="sentiment", duration_s=60, compute="ray:nohost"), "--compute"),
    ]:
        with pytest.raises(LaunchError, match=words):
            check_options(opts)
    assert not StateDB().path.exists() or StateDB().launch() is None


def test_no_key_with_claude_is_a_clear_message(w2s_home: Path) -> None:
    build_testbed("sentiment", "tiny", seed=0)
    done = cli("launch", "--n", "1", "--agent", "claude", "--minutes", "1", env=cli_env(), timeout=120)
    assert done.returncode == 2 and "ANTHROPIC_API_KEY" in done.stdout and "Traceback" not in done.stdout + done.stderr
    default = cli("launch", "--n", "1", "--dataset", "nope", env=cli_env(), timeout=120)
    assert "agent: evolve" in default.stdout and "unknown dataset" in default.stdout and default.returncode == 2


@pytest.mark.slow
@pytest.mark.timeout(2700)
def test_launch_three_evolve_agents_end_to_end(w2s_home: Path) -> None:
    build_testbed("sentiment", "tiny", seed=0)
    env = cli_env()
    port = base_port()
    started = cli("launch", "--n", "3", "--agent", "evolve", "--dataset", "sentiment", "--minutes", "40",
                  "--base-port", str(port), "--agent-args", EVOLVE_ARGS, "--sandbox", "bwrap", env=env, timeout=400)
    assert started.returncode == 0, started.stdout + started.stderr
    db = StateDB()
    launch = db.launch()
    assert launch is not None and launch.state == "running" and pid_is(launch.pid, "orchestrator", "launch")
    names = ["evolve1", "evolve2", "evolve3"]
    assert [a.name for a in db.agents(launch.id)] == names
    assert all(a.sandbox == "bwrap" and a.state == "running" for a in db.agents(launch.id))
    workspaces = [paths().workspaces_dir / name for name in names]
    tokens = TokenStore(ServerSettings().tokens_db)
    try:
        # kill -9 of one agent: failed with the reason, restarted, the others go on.
        victim = db.agent("evolve2")
        assert victim is not None and victim.pid
        os.kill(victim.pid, signal.SIGKILL)
        wait_for("evolve2 failed", lambda: db.agent("evolve2").state == "failed", 30, 0.05)  # type: ignore[union-attr]
        assert db.agent("evolve2").exit_reason == "killed by SIGKILL"  # type: ignore[union-attr]
        wait_for("evolve2 restarted", lambda: db.agent("evolve2").state == "running", 60)  # type: ignore[union-attr]
        assert db.agent("evolve2").restarts == 1 and db.agent("evolve2").pid != victim.pid  # type: ignore[union-attr]
        assert db.sessions("evolve2", launch.id)[0].exit_reason == "killed by SIGKILL"
        assert all(db.agent(n).state == "running" and db.agent(n).restarts == 0  # type: ignore[union-attr]
                   for n in ("evolve1", "evolve3"))

        # research happens: graded submissions, findings synced everywhere, a snapshot.
        def graded() -> int:
            return count("grader.db", "SELECT COUNT(*) FROM grader_submission WHERE agent LIKE 'evolve%'")

        wait_for("a first graded submission", lambda: graded() >= 1, 1500, 2)
        # kill -9 of the grader under the launch: restarted, no submission lost, agents carry on.
        record = load_record()
        assert record is not None and record["launch"] == launch.id
        grader = next(Service(**s) for s in record["services"] if s["name"] == "grader")
        before = graded()
        os.kill(grader.pid, signal.SIGKILL)  # type: ignore[arg-type]
        wait_for("grader restarted", lambda: next(s for s in load_record()["services"]  # type: ignore[index]
                                                  if s["name"] == "grader")["restarts"] == 1, 60)
        wait_for("grader healthy", lambda: Service(name="grader", port=grader.port).healthy(), 120)
        assert graded() >= before
        wait_for(">= 3 graded submissions", lambda: graded() >= 3, 1500, 2)
        wait_for("a finding", lambda: count("findings.db", "SELECT COUNT(*) FROM findings_finding") >= 1, 600, 2)
        wait_for("findings synced into every workspace", lambda: all(
            len(list((w / "shared_findings").glob("*.md"))) >= 2 for w in workspaces), 60)
        wait_for("a snapshot", lambda: count("snapshot.db", "SELECT COUNT(*) FROM snapshot_snapshot") >= 1, 600, 2)
        status = cli("status", env=env, timeout=60)
        assert status.returncode == 0 and all(n in status.stdout for n in names), status.stdout
        assert "best PGR" in status.stdout and "running" in status.stdout
        live = [t for t in tokens.list() if t.agent in names]
        assert len(live) >= 3
        # One agent stopped by the operator: it ends, stays stopped, the launch goes on.
        one = db.agent("evolve1")
        assert one is not None and one.pid
        assert cli("stop", "--agent", "evolve1", env=env, timeout=120).returncode == 0
        assert db.agent("evolve1").state == "stopped" and not pid_is(one.pid, "bwrap")  # type: ignore[union-attr]
        assert db.launch(launch.id).state == "running"  # type: ignore[union-attr]
    finally:
        stopped = cli("stop", env=env, timeout=180)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    final = db.launch(launch.id)
    assert final is not None and final.state in ("stopped", "done") and final.ended_at is not None
    assert all(a.state in ("stopped", "done") for a in db.agents(launch.id))
    assert not pid_is(final.pid, "orchestrator") and not any(pid_is(a.pid, "bwrap") for a in db.agents(launch.id))
    wait_for("no process left", lambda: processes_with_env("W2S_HOME", os.environ["W2S_HOME"]) == [], 30)
    assert not any(Service(name=s["name"], port=s["port"]).healthy(0.3) for s in load_record()["services"])  # type: ignore[index]
    assert [t for t in tokens.list() if t.agent in names] == []  # every token of the launch revoked


def _nothing_stored(home: Path) -> None:
    state = paths().state_dir
    assert not (state / "orchestrator.db").exists() or StateDB().launch() is None
    assert count("tokens.db", "SELECT count(*) FROM core_token") == 0
    assert not paths().workspaces_dir.exists() or not any(paths().workspaces_dir.iterdir())


def test_launch_on_k8s_without_kubectl_is_a_clear_error(w2s_home: Path, tmp_path: Path) -> None:
    """`orchestrator launch --sandbox k8s` as the operator types it, on a host without kubectl: exit 2, what to
    install, no launch row, no token, no workspace."""
    build_testbed("sentiment", "tiny", seed=0)
    bare = tmp_path / "bin"
    bare.mkdir()
    env = cli_env(PATH=str(bare), W2S_K8S_ALLOW_CIDRS="10.0.0.5/32")
    done = cli("launch", "--n", "2", "--agent", "evolve", "--dataset", "sentiment", "--sandbox", "k8s",
               "--public-url", "https://w2s.example.org", env=env, timeout=120)
    out = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 2 and "Traceback" not in out, out
    assert "kubectl not found" in out and "install kubectl" in out
    _nothing_stored(w2s_home)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed on this machine")
def test_launch_on_k8s_without_a_cluster_is_a_clear_error(w2s_home: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The real kubectl, a kubeconfig whose API server does not answer: the launch says so and stores nothing;
    before that, a remote sandbox without the public TLS URL or a way out of the cluster is refused."""
    build_testbed("sentiment", "tiny", seed=0)
    config = tmp_path / "kubeconfig"
    config.write_text("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:9\n"
                      "contexts:\n- name: gpu\n  context:\n    cluster: c\n    user: u\ncurrent-context: gpu\n"
                      "users:\n- name: u\n  user:\n    token: t\n")
    monkeypatch.setenv("W2S_K8S_KUBECONFIG", str(config))
    monkeypatch.setenv("W2S_K8S_REQUEST_TIMEOUT_S", "5")
    opts = LaunchOptions(n=1, kind="evolve", dataset="sentiment", duration_s=60, sandbox="k8s://gpu/agents")
    for public, words in [(None, "--public-url https://NAME"), ("http://w2s.example.org", "--public-url https://NAME"),
                          ("https://w2s.example.org", "W2S_K8S_ALLOW_CIDRS")]:
        opts.public_url = public
        with pytest.raises(LaunchError, match=words):
            check_options(opts)
    env = cli_env(W2S_K8S_KUBECONFIG=str(config), W2S_K8S_REQUEST_TIMEOUT_S="5", W2S_K8S_ALLOW_CIDRS="10.0.0.5/32")
    done = cli("launch", "--n", "1", "--agent", "evolve", "--dataset", "sentiment", "--sandbox", "k8s://gpu/agents",
               "--public-url", "https://w2s.example.org", env=env, timeout=120)
    out = " ".join((done.stdout + done.stderr).split())  # rich wraps long lines
    assert done.returncode == 2 and "Traceback" not in out, out
    assert "no Kubernetes cluster answers (context 'gpu')" in out and "127.0.0.1:9" in out
    _nothing_stored(w2s_home)


def test_agents_on_k8s_get_the_public_urls_and_policy_checked_pods(w2s_home: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """What the launch builds for a k8s agent (no cluster needed up to here): server URLs through the TLS proxy in
    its spec, its .mcp.json and a Claude agent's session config; its row names the pod; and the documents the
    backend would submit for it pass the shared agent policy."""
    import json

    import prompts
    from orchestrator._launch import Launch
    from orchestrator._services import plan
    from sandbox.backends.k8s import K8sBackend
    from sandbox.k8s_cluster import K8sSettings
    from tests.sandbox.policy import check_agent, from_pod

    build_testbed("sentiment", "tiny", seed=0)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-operator-key")
    opts = LaunchOptions(n=2, kind="claude", dataset="sentiment", duration_s=600, sandbox="k8s://gpu/agents",
                         public_url="https://w2s.example.org/")
    launch = Launch(opts)
    launch.backend = K8sBackend(K8sSettings(context="gpu", namespace="agents", allow_cidrs=["10.0.0.5/32"]))
    launch.services = plan(base_port())
    direction = prompts.load_directions()[0]
    try:
        workspace = launch._prepare_agent(0, "claude1", direction)
        proc = launch.agents["claude1"]
        public = {s.name: f"https://w2s.example.org/{s.name}/mcp" for s in launch.services}
        assert proc.spec.server_urls == public
        assert proc.spec.extra_env["ANTHROPIC_BASE_URL"] == "https://w2s.example.org/model/claude1"
        mcp = json.loads((workspace / ".mcp.json").read_text())
        assert {name: server["url"] for name, server in mcp["mcpServers"].items()} == public
        assert proc.stdin is not None and json.loads(proc.stdin)["servers"] == public
        row = launch.db.agent("claude1")
        assert row is not None and row.sandbox == "k8s://gpu/agents/w2s-agent-claude1"
        assert any("route https://w2s.example.org/model/claude1/*" in line for line in launch.log)
        *_, secret, pod = launch.backend.documents(proc.spec, proc.stdin)
        check_agent(from_pod(pod), paths().private_dirs())
        assert "sk-ant-operator-key" not in json.dumps([secret, pod])
        assert proc.spec.token and proc.spec.token not in json.dumps(pod)
    finally:
        for proxy in launch.proxies.values():
            proxy.stop()
