"""The container spec against the policy; no Docker engine runs on these machines, so nothing is started."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox import SandboxSpec
from sandbox._spec import INSIDE_DATA, INSIDE_WORKSPACE
from sandbox.backends.docker import AGENT_NETWORK, container_config


@pytest.fixture
def config(fake_home) -> dict:
    p = fake_home.paths
    spec = SandboxSpec(agent_id="a7", workspace=p.workspaces_dir / "a7", data_dir=p.data_dir,
                       models_dir=p.models_dir, artifacts_dir=p.artifacts_dir, token="w2s_Tok3n", api_key="sk-a",
                       server_urls={"grader": "http://grader:8001/mcp", "train": "http://compute:8004/mcp"},
                       command=["python", "-m", "orchestrator.agent"], gpu=True)
    spec.workspace.mkdir(parents=True)
    return container_config(spec)


def test_user_privileges_and_root_fs(config: dict) -> None:
    assert config["user"] == "1000:1000"
    assert config["cap_drop"] == ["ALL"] and "cap_add" not in config
    assert "no-new-privileges:true" in config["security_opt"]
    assert config["privileged"] is False and config["read_only"] is True
    assert "/tmp" in config["tmpfs"]
    assert config["mem_limit"] and config["nano_cpus"] and config["pids_limit"]


def test_network_is_the_internal_agents_network(config: dict) -> None:
    assert config["network"] == AGENT_NETWORK
    assert "network_mode" not in config or config["network_mode"] != "host"
    env = config["environment"]
    assert env["HTTPS_PROXY"].startswith("http://egress")
    assert {"grader", "compute"} <= set(env["NO_PROXY"].split(","))


def test_mounts_public_read_only_workspace_read_write_nothing_private(fake_home, config: dict) -> None:
    mounts = {m["Target"]: m for m in config["mounts"]}
    assert set(mounts) == {str(INSIDE_DATA), "/w2s/models", "/w2s/artifacts", str(INSIDE_WORKSPACE)}
    assert all(m["ReadOnly"] for t, m in mounts.items() if t != str(INSIDE_WORKSPACE))
    assert mounts[str(INSIDE_WORKSPACE)]["ReadOnly"] is False
    for m in mounts.values():
        source = Path(m["Source"])
        for private in fake_home.paths.private_dirs():
            assert not source.is_relative_to(private) and not private.is_relative_to(source)


def test_gpu_device_request(config: dict) -> None:
    (request,) = config["device_requests"]
    assert request["Capabilities"] == [["gpu"]] and request["Count"] == -1


def test_environment_has_no_secrets_beyond_the_allowed_ones(config: dict) -> None:
    env = config["environment"]
    secretish = {k for k in env if any(w in k for w in ("KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL"))}
    assert secretish == {"W2S_TOKEN", "ANTHROPIC_API_KEY"}
    assert all(not v.startswith(str(Path.home())) for v in env.values())
    assert env["HOME"].startswith(str(INSIDE_WORKSPACE))


def test_start_refuses_a_workspace_holding_private_dirs(fake_home) -> None:
    from sandbox import SandboxPolicyError
    from sandbox.backends.docker import DockerBackend

    spec = SandboxSpec(agent_id="a7", workspace=fake_home.paths.home, command=["true"])
    with pytest.raises(SandboxPolicyError):
        DockerBackend().start(spec)
