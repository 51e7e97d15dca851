"""compose.yaml against the policy: labels only in the grader, no host networking, agents internal."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.sandbox.policy import PRIVATE_VOLUMES, check_hardening, from_compose

COMPOSE = Path(__file__).resolve().parents[2] / "compose.yaml"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _volumes(service: dict) -> list[str]:
    return [v if isinstance(v, str) else f"{v['source']}:{v['target']}" for v in service.get("volumes", [])]


def test_services_exist(compose: dict) -> None:
    assert {"grader", "findings", "snapshot", "compute", "dashboard", "litestream"} <= set(compose["services"])


def _long_running(compose: dict) -> dict[str, dict]:
    """Services `docker compose up` starts (one-off tools sit behind a profile)."""
    return {n: s for n, s in compose["services"].items() if not s.get("profiles")}


def test_labels_volume_only_in_the_grader_and_read_only(compose: dict) -> None:
    holders = [n for n, s in _long_running(compose).items() if any(v.split(":")[0] == "labels" for v in _volumes(s))]
    assert holders == ["grader"]
    assert [v for v in _volumes(compose["services"]["grader"]) if v.startswith("labels:")] == [
        "labels:/w2s/private/labels:ro"]
    # The split salt is written at setup by the one-off admin service, so the grader never needs to write it.
    admin = compose["services"]["admin"]
    assert admin["profiles"] == ["setup"] and "labels:/w2s/private/labels" in _volumes(admin)
    assert admin["restart"] == "no" and not admin.get("networks")


def test_private_volumes_are_the_policys(compose: dict) -> None:
    """The shared policy's list of private volumes covers every trusted-side volume compose declares."""
    assert {"labels", "state", "tokens", "replicas", "snapshots", "compute-state"} <= set(compose["volumes"])
    assert PRIVATE_VOLUMES <= set(compose["volumes"])


def test_compute_never_writes_workspaces(compose: dict) -> None:
    for name, service in _long_running(compose).items():
        for volume in _volumes(service):
            if volume.split(":")[0] == "workspaces" and name != "snapshot":
                assert volume.endswith(":ro"), f"{name} mounts every workspace writable"


def test_leak_scan_runs_outside_agent_containers_from_image_code(compose: dict) -> None:
    scan = compose["services"]["leak-scan"]
    assert scan["command"][:4] == ["python", "-I", "-m", "sandbox.leak_scan"]
    assert scan["working_dir"] == "/" and all(v.endswith(":ro") for v in _volumes(scan))
    assert not scan.get("networks") and scan["profiles"] == ["setup"]


def test_no_secret_in_any_service_environment(compose: dict) -> None:
    from sandbox._spec import _SECRET_NAME_RE

    for name, service in compose["services"].items():
        env = service.get("environment", {})
        names = [str(n).split("=", 1)[0] for n in (env if isinstance(env, list) else list(env))]
        secrets = [n for n in names if _SECRET_NAME_RE.search(n) and not n.endswith(("_DB", "_DIR", "_URL"))]
        assert not secrets, f"{name} takes {secrets} from its environment; use a file or stdin"


def test_dockerfile_default_command_is_not_a_scan_in_the_workspace() -> None:
    dockerfile = (COMPOSE.parent / "sandbox" / "Dockerfile").read_text()
    cmd = [line for line in dockerfile.splitlines() if line.startswith("CMD")][-1]
    assert "leak_scan" not in cmd


def test_state_volume_never_on_the_compute_side(compose: dict) -> None:
    assert not any(v.split(":")[0] in ("state", "replicas") for v in _volumes(compose["services"]["compute"]))
    assert "agents" not in compose["services"]["litestream"].get("networks", [])


def test_no_host_network_no_privileged(compose: dict) -> None:
    for name, service in compose["services"].items():
        # squid switches to its own user at start; nothing else adds a capability
        check_hardening(from_compose(name, service), allow_cap_add=name == "egress")
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
    paths = {db["path"] for db in config["dbs"]}
    assert {p.rsplit("/", 1)[1] for p in paths} >= {"grader.db", "findings.db", "snapshot.db", "tokens.db"}
    # The tokens db litestream replicates is the one the servers use (W2S_TOKENS_DB), on a volume it mounts.
    token_db = compose["x-server"]["environment"]["W2S_TOKENS_DB"]
    assert token_db in paths
    mounted = {v.split(":")[1]: v.split(":")[0] for v in _volumes(compose["services"]["litestream"])}
    for path in paths:
        assert any(path.startswith(target + "/") for target in mounted), f"litestream cannot see {path}"


def test_every_server_reaches_the_tokens_and_compute_the_workspaces(compose: dict) -> None:
    services = compose["services"]
    for name in ("grader", "findings", "snapshot", "compute"):
        assert any(v.split(":")[0] == "tokens" for v in _volumes(services[name])), name
    token_db = services["grader"]["environment"]["W2S_TOKENS_DB"]
    assert token_db.startswith("/w2s/private/tokens/")
    for name in ("compute", "snapshot"):
        assert any(v.split(":")[0] == "workspaces" for v in _volumes(services[name])), name
    assert "W2S_SNAPSHOT_STORE_DIR" in services["snapshot"]["environment"]
