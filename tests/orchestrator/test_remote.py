"""Remote sandboxes as the launch sees them: which backends are remote, where an agent runs (what the dashboard
shows), the public server URLs, and the refusals that need no engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator._remote import check_sandbox, public_urls, remote_sandbox, sandbox_location
from sandbox import SandboxSpec
from sandbox._engine import parse_engine
from sandbox.backends.bwrap import BwrapBackend
from sandbox.backends.docker import DockerBackend
from sandbox.backends.k8s import K8sBackend
from sandbox.k8s_cluster import K8sSettings


def test_where_each_backend_runs(tmp_path: Path) -> None:
    spec = SandboxSpec(agent_id="evolve2", workspace=tmp_path / "evolve2", command=["true"])
    k8s = K8sBackend(K8sSettings(context="gpu-cluster", namespace="agents"))
    remote_docker = DockerBackend(engine=parse_engine("docker://ssh://ops@gpu-1"))
    local_docker = DockerBackend(engine=parse_engine(None))
    assert remote_sandbox(k8s) and remote_sandbox(remote_docker)
    assert not remote_sandbox(local_docker) and not remote_sandbox(BwrapBackend())
    assert sandbox_location(k8s, spec) == "k8s://gpu-cluster/agents/w2s-agent-evolve2"
    assert sandbox_location(remote_docker, spec) == "docker://ssh://ops@gpu-1"
    assert sandbox_location(BwrapBackend(), spec) == "bwrap"


def test_public_urls_follow_the_reverse_proxy_layout() -> None:
    assert public_urls("https://w2s.example.org/", ["grader", "train"]) == {
        "grader": "https://w2s.example.org/grader/mcp", "train": "https://w2s.example.org/train/mcp"}


def test_refusals_that_need_no_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("W2S_K8S_ALLOW_CIDRS", raising=False)
    monkeypatch.delenv("W2S_K8S_PROXY", raising=False)
    with pytest.raises(ValueError, match="unknown sandbox backend 'skypilot'"):
        check_sandbox("skypilot", None)
    with pytest.raises(ValueError, match="k8s://CONTEXT/NAMESPACE"):
        check_sandbox("k8s://a/b/c", "https://w2s.example.org")
    with pytest.raises(ValueError, match="refusing plain TCP"):
        check_sandbox("docker://gpu-1:2375", "https://w2s.example.org")
    with pytest.raises(ValueError, match="--public-url https://NAME"):
        check_sandbox("docker://ssh://ops@gpu-1", None)
    with pytest.raises(ValueError, match="W2S_K8S_ALLOW_CIDRS"):
        check_sandbox("k8s", "https://w2s.example.org")
    monkeypatch.setenv("W2S_K8S_ALLOW_CIDRS", "10.0.0.5/32")
    with pytest.raises(ValueError, match="opens port 443"):
        check_sandbox("k8s", "https://w2s.example.org:8443")


def test_the_dashboard_shows_a_k8s_agents_pod_and_context(w2s_home: Path) -> None:
    """The row the launch writes for a k8s agent (its location as `sandbox`), read back by the dashboard."""
    import time

    from orchestrator._db import AgentRow, LaunchRow, StateDB
    from orchestrator.dashboard._agents import agents
    from orchestrator.dashboard._sources import Sources
    from trainer import paths

    p = paths()
    spec = SandboxSpec(agent_id="evolve2", workspace=p.workspaces_dir / "evolve2", command=["true"])
    where = sandbox_location(K8sBackend(K8sSettings(context="gpu-cluster", namespace="agents")), spec)
    db = StateDB()
    db.add_launch(LaunchRow(id="L1", started_at=time.time(), n_agents=1, agent_kind="evolve", dataset="toy", pid=1))
    db.upsert_agent(AgentRow(name="evolve2", launch_id="L1", kind="evolve", direction="d", started_at=time.time(),
                             sandbox=where))
    (view,) = agents(Sources(state_dir=p.state_dir, workspaces_dir=p.workspaces_dir, label_store=p.label_store_dir))
    assert view.sandbox == "k8s://gpu-cluster/agents/w2s-agent-evolve2"
