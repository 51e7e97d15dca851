"""compose.yaml against the policy: labels only in the grader, no host networking, agents internal."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

COMPOSE = Path(__file__).resolve().parents[2] / "compose.yaml"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _volumes(service: dict) -> list[str]:
    return [v if isinstance(v, str) else f"{v['source']}:{v['target']}" for v in service.get("volumes", [])]


def test_services_exist(compose: dict) -> None:
    assert {"grader", "findings", "snapshot", "compute", "dashboard", "litestream"} <= set(compose["services"])


def test_labels_volume_only_in_the_grader(compose: dict) -> None:
    holders = [n for n, s in compose["services"].items() if any(v.split(":")[0] == "labels" for v in _volumes(s))]
    assert holders == ["grader"]
    assert any(v.startswith("labels:") and v.endswith(":ro") for v in _volumes(compose["services"]["grader"]))


def test_state_volume_never_on_the_compute_side(compose: dict) -> None:
    assert not any(v.split(":")[0] in ("state", "replicas") for v in _volumes(compose["services"]["compute"]))
    assert "agents" not in compose["services"]["litestream"].get("networks", [])


def test_no_host_network_no_privileged(compose: dict) -> None:
    for name, service in compose["services"].items():
        assert service.get("network_mode") != "host", name
        assert not service.get("privileged"), name
        assert "ALL" in service.get("cap_drop", []), name
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_agents_network_is_internal(compose: dict) -> None:
    assert compose["networks"]["agents"]["internal"] is True
    assert compose["networks"]["agents"]["name"] == "w2s-agents"
    on_agents = {n for n, s in compose["services"].items() if "agents" in s.get("networks", [])}
    assert on_agents == {"grader", "findings", "snapshot", "compute", "egress"}


def test_compute_reserves_gpus(compose: dict) -> None:
    devices = compose["services"]["compute"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]


def test_servers_run_as_http_mcp(compose: dict) -> None:
    for name in ("grader", "findings", "snapshot"):
        command = compose["services"][name]["command"]
        assert command[:3] == ["python", "-m", f"mcp_servers.{name}"]
        assert "--transport" in command and "http" in command and "0.0.0.0" in command
    text = " ".join(compose["services"]["compute"]["command"])
    assert "mcp_servers.train" in text and "mcp_servers.predict" in text


def test_litestream_replicates_every_database(compose: dict) -> None:
    config = yaml.safe_load(compose["configs"]["litestream"]["content"])
    paths = {db["path"].rsplit("/", 1)[1] for db in config["dbs"]}
    assert {"grader.db", "findings.db", "snapshot.db", "tokens.db"} <= paths


def test_every_server_reaches_the_tokens_and_compute_the_workspaces(compose: dict) -> None:
    services = compose["services"]
    for name in ("grader", "findings", "snapshot", "compute"):
        assert any(v.split(":")[0] == "tokens" for v in _volumes(services[name])), name
    token_db = services["grader"]["environment"]["W2S_TOKENS_DB"]
    assert token_db.startswith("/w2s/private/tokens/")
    for name in ("compute", "snapshot"):
        assert any(v.split(":")[0] == "workspaces" for v in _volumes(services[name])), name
    assert "W2S_SNAPSHOT_STORE_DIR" in services["snapshot"]["environment"]
