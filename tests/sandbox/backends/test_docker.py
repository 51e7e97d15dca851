"""The container spec against the shared policy (tests/sandbox/policy.py); no Docker engine runs on these machines,
so nothing is started."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import SandboxSpec
from sandbox._backend import MAX_LINE_BYTES
from sandbox._spec import INSIDE_DATA, INSIDE_WORKSPACE
from sandbox.backends.docker import AGENT_NETWORK, ContainerHandle, container_config
from tests.sandbox.policy import check_agent, from_docker


@pytest.fixture
def config(fake_home) -> dict:
    p = fake_home.paths
    spec = SandboxSpec(agent_id="a7", workspace=p.workspaces_dir / "a7", data_dir=p.data_dir,
                       models_dir=p.models_dir, artifacts_dir=p.artifacts_dir, token="w2s_Tok3n", api_key="sk-a",
                       server_urls={"grader": "http://grader:8001/mcp", "train": "http://compute:8004/mcp"},
                       command=["python", "-m", "orchestrator.agent"], gpu=True)
    spec.workspace.mkdir(parents=True)
    return container_config(spec)


def test_user_privileges_and_root_fs(fake_home, config: dict) -> None:
    check_agent(from_docker(config), fake_home.paths.private_dirs(), secrets_from_file=False)
    assert "/tmp" in config["tmpfs"]
    assert config["mem_limit"] and config["nano_cpus"] and config["pids_limit"]


def test_network_is_the_internal_agents_network(config: dict) -> None:
    assert config["network"] == AGENT_NETWORK
    assert "network_mode" not in config or config["network_mode"] != "host"
    env = config["environment"]
    assert env["HTTPS_PROXY"].startswith("http://egress")
    assert {"grader", "compute"} <= set(env["NO_PROXY"].split(","))


def test_mounts_public_read_only_workspace_read_write_nothing_private(config: dict) -> None:
    mounts = {m["Target"] for m in config["mounts"]}
    assert mounts == {str(INSIDE_DATA), "/w2s/models", "/w2s/artifacts", str(INSIDE_WORKSPACE)}


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


def test_secrets_come_from_a_read_only_file_not_the_container_env(fake_home) -> None:
    import json
    import stat

    from sandbox.backends.docker import SECRETS_INSIDE, write_secrets

    p = fake_home.paths
    spec = SandboxSpec(agent_id="a8", workspace=p.workspaces_dir / "a8", token="w2s_Tok3nXyzXyzXyzXyzXyzXyz",
                       api_key="sk-ant-x", command=["python", "-m", "orchestrator.agents.evolve"])
    spec.workspace.mkdir(parents=True)
    secrets = write_secrets(spec)
    assert secrets is not None
    try:
        config = container_config(spec, secrets_file=secrets)
        check_agent(from_docker(config), p.private_dirs())
        assert "W2S_TOKEN" not in config["environment"] and "ANTHROPIC_API_KEY" not in config["environment"]
        assert "w2s_Tok3n" not in json.dumps(config, default=str) and "sk-ant-x" not in json.dumps(config, default=str)
        mount = next(m for m in config["mounts"] if m["Target"] == SECRETS_INSIDE)
        assert mount["ReadOnly"] and mount["Source"] == str(secrets)
        assert config["command"][:4] == ["python", "-I", "-m", "sandbox._envfile"]
        assert config["command"][-3:] == spec.command
        assert stat.S_IMODE(secrets.stat().st_mode) == 0o400
        assert json.loads(secrets.read_text()) == {"W2S_TOKEN": spec.token, "ANTHROPIC_API_KEY": "sk-ant-x"}
    finally:
        import shutil

        shutil.rmtree(secrets.parent)


def test_envfile_sets_only_the_agent_secrets_and_execs(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    good = tmp_path / "ok.json"
    good.write_text(json.dumps({"W2S_TOKEN": "w2s_abc"}))
    done = subprocess.run([sys.executable, "-I", "-m", "sandbox._envfile", str(good), "--", sys.executable, "-c",
                           "import os; print(os.environ['W2S_TOKEN'])"], capture_output=True, text=True, check=False,
                          cwd=tmp_path)
    assert done.stdout.strip() == "w2s_abc", done.stderr
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"LD_PRELOAD": "/tmp/x.so"}))
    done = subprocess.run([sys.executable, "-I", "-m", "sandbox._envfile", str(bad), "--", "true"],
                          capture_output=True, text=True, check=False, cwd=tmp_path)
    assert done.returncode != 0 and "may not set" in done.stderr


class _SocketLogs:
    """What `ContainerHandle.lines` uses of the SDK's container: `logs(stream=True)` yields what the engine sends,
    here read off a real socket (no engine runs on these machines)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def logs(self, **kwargs: object) -> Iterator[bytes]:
        assert kwargs == {"stream": True, "follow": True, "stdout": True, "stderr": False}
        with self.sock:
            yield from iter(lambda: self.sock.recv(1 << 16), b"")


def test_log_lines_come_at_most_max_line_bytes_at_a_time() -> None:
    inside, outside = socket.socketpair()
    payload = b"y" * (2 * MAX_LINE_BYTES + 5) + b'\n{"event": "done"}\n'

    def send() -> None:
        with outside:
            outside.sendall(payload)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    pieces = list(ContainerHandle(_SocketLogs(inside), "a7").lines())
    sender.join(timeout=10)
    assert b"".join(pieces) == payload
    assert [len(p) for p in pieces] == [MAX_LINE_BYTES, MAX_LINE_BYTES, 6, len(b'{"event": "done"}\n')]


class _SocketStderr:
    """`logs(stderr=True, stream=True)` of the SDK's container, read off a real socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def logs(self, **kwargs: object) -> Iterator[bytes]:
        assert kwargs == {"stdout": False, "stderr": True, "stream": True}
        with self.sock:
            yield from iter(lambda: self.sock.recv(1 << 16), b"")


def test_stderr_text_keeps_only_the_end_of_a_huge_stderr() -> None:
    from sandbox._backend import STDERR_TAIL_BYTES

    inside, outside = socket.socketpair()
    payload = b"e" * (3 * STDERR_TAIL_BYTES) + b"REASON"

    def send() -> None:
        with outside:
            outside.sendall(payload)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    err = ContainerHandle(_SocketStderr(inside), "a7").stderr_text()
    sender.join(timeout=10)
    assert err == payload[-STDERR_TAIL_BYTES:]
