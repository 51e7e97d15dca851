"""One policy check for every way an agent or server container is described: a compose service, the docker
backend's `containers.run` arguments, a Kubernetes Pod. Each adapter turns its format into a `View`; the checks
run on views, so compose, docker and k8s are held to the same rules by the same code."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox._spec import INSIDE_ARTIFACTS, INSIDE_DATA, INSIDE_MODELS, INSIDE_WORKSPACE

PRIVATE_VOLUMES = frozenset({"labels", "state", "tokens", "replicas", "snapshots", "compute-state"})
"""Named volumes / claims of the trusted side (compose.yaml's names; k8s claims may carry a `w2s-` prefix)."""
PUBLIC_TARGETS = frozenset({str(INSIDE_DATA), str(INSIDE_MODELS), str(INSIDE_ARTIFACTS)})
AGENT_SECRETS = frozenset({"W2S_TOKEN", "ANTHROPIC_API_KEY"})


@dataclass
class Mount:
    source: str
    """A host path, a named volume or a claim name."""
    target: str
    read_only: bool
    kind: str = "bind"
    """bind | volume | claim | tmpfs | secret"""


@dataclass
class View:
    name: str
    uid: int | None
    """None: the image's default user (compose services that do not set one)."""
    read_only_root: bool
    cap_drop: list[str]
    cap_add: list[str]
    no_new_privileges: bool
    privileged: bool
    host_network: bool
    mounts: list[Mount] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    gpus: int = 0


def check_hardening(view: View, *, allow_cap_add: bool = False) -> None:
    """What every container of the project obeys (servers, proxies, agents)."""
    assert not view.privileged, f"{view.name} is privileged"
    assert not view.host_network, f"{view.name} uses the host's network"
    assert "ALL" in view.cap_drop, f"{view.name} keeps capabilities"
    assert allow_cap_add or not view.cap_add, f"{view.name} adds {view.cap_add}"
    assert view.no_new_privileges, f"{view.name} may gain privileges (setuid)"


def check_agent(view: View, private_dirs: list[Path] | None = None, *, secrets_from_file: bool = True) -> None:
    """An agent's container: hardened, non-root, read-only root, only its workspace writable, only public data
    and its own workspace mounted (no private volume, no host path in or around a private dir), no secret in the
    environment when the secrets come from a file."""
    check_hardening(view)
    assert view.uid is not None and view.uid != 0, f"{view.name} runs as root"
    assert view.read_only_root, f"{view.name} has a writable root filesystem"
    for mount in view.mounts:
        name = mount.source.removeprefix("w2s-") if mount.kind in ("volume", "claim") else ""
        assert name not in PRIVATE_VOLUMES, f"{view.name} mounts the private volume {mount.source}"
        if mount.kind == "bind":
            for private in private_dirs or []:
                source = Path(mount.source)
                assert not source.is_relative_to(private) and not private.is_relative_to(source), \
                    f"{view.name} binds {source}, which overlaps the private {private}"
        if mount.target in PUBLIC_TARGETS:
            assert mount.read_only, f"{view.name} may write the public {mount.target}"
        elif mount.target not in (str(INSIDE_WORKSPACE), "/tmp") and mount.kind != "secret":
            raise AssertionError(f"{view.name} mounts {mount.source} at {mount.target}: not an agent's mount")
        if mount.kind == "secret":
            assert mount.read_only, f"{view.name} may write its secrets file"
    writable = [m.target for m in view.mounts if not m.read_only and m.kind != "tmpfs"]
    assert writable == [str(INSIDE_WORKSPACE)], f"{view.name} writes {writable}"
    if secrets_from_file:
        assert not AGENT_SECRETS & set(view.env), f"{view.name} has secrets in its environment"
        assert any(m.kind == "secret" for m in view.mounts), f"{view.name} has no secrets file"


# -- adapters -----------------------------------------------------------------------------------------------------


def _uid(user: Any) -> int | None:
    return None if user in (None, "") else int(str(user).split(":", 1)[0])


def from_docker(config: dict[str, Any]) -> View:
    """`sandbox.backends.docker.container_config(...)`."""
    mounts = []
    for m in config["mounts"]:
        kind = "secret" if m["Target"].startswith("/run/w2s/") else "bind"
        mounts.append(Mount(m["Source"], m["Target"], bool(m["ReadOnly"]), kind))
    mounts += [Mount("tmpfs", target, False, "tmpfs") for target in config.get("tmpfs", {})]
    return View(config["name"], _uid(config["user"]), bool(config["read_only"]), list(config["cap_drop"]),
                list(config.get("cap_add") or []), "no-new-privileges:true" in config["security_opt"],
                bool(config["privileged"]), config.get("network_mode") == "host", mounts, dict(config["environment"]),
                sum(1 for _ in config.get("device_requests", [])))


def from_compose(name: str, service: dict[str, Any]) -> View:
    """A service of compose.yaml (volumes as `source:target[:ro]` strings or long form)."""
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target, *mode = volume.split(":")
            read_only = mode == ["ro"]
        else:
            source, target, read_only = volume["source"], volume["target"], bool(volume.get("read_only"))
        mounts.append(Mount(source, target, read_only, "bind" if source.startswith(("/", ".")) else "volume"))
    env = service.get("environment", {})
    return View(name, _uid(service.get("user")), bool(service.get("read_only")), list(service.get("cap_drop", [])),
                list(service.get("cap_add", [])), "no-new-privileges:true" in service.get("security_opt", []),
                bool(service.get("privileged")), service.get("network_mode") == "host", mounts,
                dict(env) if isinstance(env, dict) else {})


def from_pod(pod: dict[str, Any], container: str = "agent") -> View:
    """A Kubernetes Pod manifest (the container named `container`)."""
    spec = pod["spec"]
    (main,) = [c for c in spec["containers"] if c["name"] == container]
    security = {**spec.get("securityContext", {}), **main.get("securityContext", {})}
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    mounts = []
    for m in main.get("volumeMounts", []):
        volume = volumes[m["name"]]
        if "persistentVolumeClaim" in volume:
            claim = volume["persistentVolumeClaim"]
            mounts.append(Mount(claim["claimName"], m["mountPath"], bool(m.get("readOnly") or claim.get("readOnly")),
                                "claim"))
        elif "secret" in volume:
            mounts.append(Mount(volume["secret"]["secretName"], m["mountPath"], bool(m.get("readOnly")), "secret"))
        elif "emptyDir" in volume:
            mounts.append(Mount("emptyDir", m["mountPath"], False, "tmpfs"))
        elif "hostPath" in volume:
            mounts.append(Mount(volume["hostPath"]["path"], m["mountPath"], bool(m.get("readOnly")), "bind"))
        else:
            raise AssertionError(f"unexpected volume {volume}")
    caps = security.get("capabilities", {})
    uid = security.get("runAsUser")
    if not security.get("runAsNonRoot"):
        uid = 0 if uid in (None, 0) else uid
    return View(pod["metadata"]["name"], uid, bool(security.get("readOnlyRootFilesystem")), list(caps.get("drop", [])),
                list(caps.get("add", [])), security.get("allowPrivilegeEscalation") is False,
                bool(security.get("privileged")) or bool(spec.get("hostPID") or spec.get("hostIPC")),
                bool(spec.get("hostNetwork")), mounts,
                {e["name"]: e.get("value", "") for e in main.get("env", [])},
                int(main.get("resources", {}).get("limits", {}).get("nvidia.com/gpu", 0)))
