"""Remote Docker engines: addresses, TLS, refusals. No engine runs on these machines, so the client is built and
checked but never connected (docs/scale-out.md says what was not run); a remote engine is exercised only where
W2S_TEST_DOCKER_HOST names one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sandbox import SandboxSpec, get_backend
from sandbox._engine import EngineError, parse_engine
from sandbox.backends.docker import DockerBackend, container_config
from tests.sandbox.policy import check_agent, from_docker


@pytest.fixture
def certs(tmp_path: Path) -> Path:
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("-----BEGIN CERTIFICATE-----\n")
    return tmp_path


def test_addresses(certs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("W2S_DOCKER_CERT_PATH", "DOCKER_CERT_PATH"):
        monkeypatch.delenv(var, raising=False)
    assert parse_engine(None).base_url is None and not parse_engine(None).remote
    ssh = parse_engine("docker://ssh://ops@gpu-1")
    assert ssh.base_url == "ssh://ops@gpu-1" and ssh.remote and ssh.client_kwargs()["use_ssh_client"] is True
    assert not parse_engine("docker://unix:///run/docker.sock").remote
    assert not parse_engine("docker://127.0.0.1:2375").remote  # loopback TCP: allowed without TLS
    with pytest.raises(EngineError, match="refusing plain TCP"):
        parse_engine("docker://gpu-1:2376")
    with pytest.raises(EngineError, match="no host"):
        parse_engine("docker://tcp://:2376")
    monkeypatch.setenv("W2S_DOCKER_CERT_PATH", str(certs))
    tls = parse_engine("docker://gpu-1:2376")
    assert tls.base_url == "tcp://gpu-1:2376" and tls.remote and tls.tls
    kwargs = tls.client_kwargs()
    assert kwargs["tls"].verify is True and kwargs["tls"].ca_cert == str(certs / "ca.pem")
    assert kwargs["tls"].cert == (str(certs / "cert.pem"), str(certs / "key.pem"))
    (certs / "key.pem").unlink()
    with pytest.raises(EngineError, match="key.pem"):
        parse_engine("docker://gpu-1:2376")


def test_get_backend_takes_a_remote_target(certs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("W2S_DOCKER_SECRETS_DIR", raising=False)
    backend = DockerBackend.from_target("docker://ssh://ops@gpu-1")
    reason = backend.available()
    assert reason is not None and "W2S_DOCKER_SECRETS_DIR" in reason  # the token file must reach the engine's host
    monkeypatch.setenv("W2S_DOCKER_SECRETS_DIR", str(certs))
    monkeypatch.setenv("W2S_DOCKER_CERT_PATH", str(certs))
    with pytest.raises(Exception, match="gpu-1"):  # no engine answers here: the reason names the host
        get_backend("docker://gpu-1:2376")
    with pytest.raises(ValueError, match="takes no target"):
        get_backend("bwrap://elsewhere")


def test_remote_agents_reach_servers_through_the_proxy(fake_home) -> None:
    p = fake_home.paths
    spec = SandboxSpec(agent_id="r1", workspace=p.workspaces_dir / "r1", data_dir=p.data_dir,
                       server_urls={"grader": "https://w2s.example.org/grader/mcp"}, command=["true"], gpu=True)
    spec.workspace.mkdir(parents=True)
    local = container_config(spec)
    remote = container_config(spec, direct_servers=False)
    assert "w2s.example.org" in local["environment"]["NO_PROXY"]
    assert remote["environment"]["NO_PROXY"] == "localhost,127.0.0.1"  # the TLS endpoint only via the proxy
    check_agent(from_docker(remote), p.private_dirs(), secrets_from_file=False)


@pytest.mark.skipif(not os.environ.get("W2S_TEST_DOCKER_HOST"),
                    reason="no remote Docker engine reachable from these machines (set W2S_TEST_DOCKER_HOST=docker://"
                           "ssh://user@host to run it); the container spec is checked statically above")
def test_remote_engine_answers() -> None:
    engine = parse_engine(os.environ["W2S_TEST_DOCKER_HOST"])
    assert engine.client(timeout=10).ping()
