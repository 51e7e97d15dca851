"""Docker: the agent image (`sandbox/Dockerfile`) in a locked-down container, through the docker SDK.

`container_config(spec)` builds the keyword arguments of `client.containers.run` and is pure (tests check it
against the policy without an engine): non-root user, read-only root with tmpfs /tmp, cap_drop ALL,
no-new-privileges, memory/cpu/pids limits, public data, models and artifacts read-only, workspace read-write, GPU
device requests, and the internal network `w2s-agents` on which the agent reaches only what is attached to it:
the MCP servers and an egress proxy that forwards to the model API alone (see compose.yaml and docs/sandbox.md).
`SandboxSpec.egress` (host loopback URLs) cannot be honoured here: a container does not share the host's loopback;
a service the agents must reach joins the `w2s-agents` network instead.

Secrets: `start` puts the token and the API key in a 0400 file bound read-only at /run/w2s/secrets.json, loaded by
`python -I -m sandbox._envfile` into the agent's process only; the container's config (what `docker inspect`
shows and the engine stores) holds no secret.

Remote engines (`docker://ssh://user@host`, `docker://host:2376` with TLS; see `sandbox._engine`): bind sources are
paths on the engine's host, so workspaces, the public tree and W2S_DOCKER_SECRETS_DIR sit on a filesystem both
hosts mount at the same path (docs/scale-out.md); agents reach the servers through the egress proxy on that host
(the trusted host's TLS endpoint), never directly.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sandbox._backend import Backend, SandboxHandle, chunk_lines, register, tail_of
from sandbox._engine import Engine, EngineError, engine_from_env, parse_engine
from sandbox._spec import (
    INSIDE_ARTIFACTS,
    INSIDE_DATA,
    INSIDE_MODELS,
    INSIDE_WORKSPACE,
    SandboxSpec,
    check_policy,
)
from sandbox._user import prepare_workspace

log = logging.getLogger(__name__)
SECRETS_INSIDE = "/run/w2s/secrets.json"

AGENT_IMAGE = os.environ.get("W2S_AGENT_IMAGE", "w2s-lab-agent:latest")
AGENT_NETWORK = os.environ.get("W2S_AGENT_NETWORK", "w2s-agents")
EGRESS_PROXY = os.environ.get("W2S_EGRESS_PROXY", "http://egress:3128")
AGENT_UID = 1000
AGENT_USER = f"{AGENT_UID}:{AGENT_UID}"
"""The `agent` user of the image; never root."""
IMAGE_VENV = "/opt/venv"


def container_config(spec: SandboxSpec, *, image: str = AGENT_IMAGE, network: str = AGENT_NETWORK,
                     proxy: str | None = EGRESS_PROXY, secrets_file: Path | None = None,
                     direct_servers: bool = True) -> dict[str, Any]:
    """kwargs for `docker.from_env().containers.run(**kwargs)`; no engine needed to build them.

    With `secrets_file` (what `start` passes) the token and API key are left out of the environment and read
    from that file inside instead. `direct_servers=False` (a remote engine): the servers are not on the agents'
    network, so their URLs go through the proxy too."""
    from docker.types import DeviceRequest, Mount

    mounts = [Mount(target=str(dst), source=str(src.resolve()), type="bind", read_only=True)
              for src, dst in spec.read_only_binds() if dst in (INSIDE_DATA, INSIDE_MODELS, INSIDE_ARTIFACTS)]
    mounts.append(Mount(target=str(INSIDE_WORKSPACE), source=str(spec.workspace.resolve()), type="bind",
                        read_only=False))
    env = spec.environment(inside_venv=None)
    env["PATH"] = f"{IMAGE_VENV}/bin:/usr/local/bin:/usr/bin:/bin"
    env["PYTHONPATH"] = ""  # the image has the project installed; nothing is bound under /w2s/src
    command = list(spec.command)
    if secrets_file is not None:
        for name in ("W2S_TOKEN", "ANTHROPIC_API_KEY"):
            env.pop(name, None)
        mounts.append(Mount(target=SECRETS_INSIDE, source=str(secrets_file), type="bind", read_only=True))
        command = ["python", "-I", "-m", "sandbox._envfile", SECRETS_INSIDE, "--", *command]
    if proxy:
        # The internal network has no route out; the proxy is the one door, and it only opens to the model API.
        servers = sorted({u.split("//", 1)[1].split("/", 1)[0].split(":", 1)[0] for u in spec.server_urls.values()}
                         if direct_servers else ())
        env |= {"HTTPS_PROXY": proxy, "HTTP_PROXY": proxy, "NO_PROXY": ",".join(["localhost", "127.0.0.1", *servers])}
    devices: list[Any] = []
    if spec.gpu:
        ids = spec.gpu if isinstance(spec.gpu, list) else None
        devices.append(DeviceRequest(driver="nvidia", count=None if ids else -1, device_ids=ids,
                                     capabilities=[["gpu"]]))
    limits = spec.limits
    return {
        "image": image,
        "command": command,
        "name": f"w2s-agent-{spec.agent_id}",
        "hostname": f"w2s-{spec.agent_id}"[:63],
        "user": AGENT_USER,
        "environment": env,
        "working_dir": str(spec.inside_cwd()),
        "mounts": mounts,
        "network": network,
        "read_only": True,
        "tmpfs": {"/tmp": f"rw,nosuid,nodev,size={limits.tmp_mb}m"},
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "privileged": False,
        "ipc_mode": "private",
        "init": True,
        "mem_limit": f"{limits.memory_mb}m" if limits.memory_mb else None,
        "memswap_limit": f"{limits.memory_mb}m" if limits.memory_mb else None,
        "nano_cpus": int(limits.cpus * 1e9) if limits.cpus else None,
        "pids_limit": limits.pids,
        "device_requests": devices,
        "labels": {"w2s.agent": spec.agent_id, "w2s.role": "agent"},
        "detach": True,
        "stdin_open": False,
    }


def write_secrets(spec: SandboxSpec, parent: Path | None = None) -> Path | None:
    """The agent's token and API key in a fresh 0400 file owned by the container's user; None when it has none.
    `parent`: where the engine's host sees the file too (a remote engine); default the local temp dir."""
    values = {k: v for k, v in (("W2S_TOKEN", spec.token), ("ANTHROPIC_API_KEY", spec.api_key)) if v}
    if not values:
        return None
    folder = Path(tempfile.mkdtemp(prefix=f"w2s-docker-{spec.agent_id}-", dir=parent))
    path = folder / "secrets.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
    with os.fdopen(fd, "w") as handle:
        json.dump(values, handle)
    if os.geteuid() == 0:
        os.chown(path, AGENT_UID, AGENT_UID)
        folder.chmod(0o711)
    return path


class ContainerHandle(SandboxHandle):
    def __init__(self, container: Any, agent_id: str, secrets_file: Path | None = None) -> None:
        self.container, self.agent_id, self.backend = container, agent_id, "docker"
        self._lock = threading.Lock()
        self._code: int | None = None
        self._secrets_file = secrets_file

    def _forget_secrets(self) -> None:
        if self._secrets_file is not None:
            shutil.rmtree(self._secrets_file.parent, ignore_errors=True)
            self._secrets_file = None

    def lines(self) -> Iterator[bytes]:
        yield from chunk_lines(self.container.logs(stream=True, follow=True, stdout=True, stderr=False))

    def stderr_text(self) -> bytes:
        try:
            return tail_of(self.container.logs(stdout=False, stderr=True, stream=True))
        except Exception:  # noqa: BLE001 - the container may already be removed
            return b""

    def poll(self) -> int | None:
        self.container.reload()
        if self.container.status in ("exited", "dead"):
            return int(self.container.attrs["State"]["ExitCode"])
        return None

    def wait(self, timeout: float | None = None) -> int:
        import requests

        try:
            result = self.container.wait(timeout=timeout)
        except requests.exceptions.ReadTimeout as exc:  # the SDK's way of saying "still running"
            raise TimeoutError(f"container of {self.agent_id} still running after {timeout}s") from exc
        self._code = int(result.get("StatusCode", -1))
        self._forget_secrets()
        return self._code

    def stop(self, grace_s: float = 10.0) -> int:
        self.container.stop(timeout=int(grace_s))
        return self.wait(timeout=30)


@register("docker")
class DockerBackend(Backend):
    def __init__(self, image: str = AGENT_IMAGE, network: str = AGENT_NETWORK, engine: Engine | None = None,
                 secrets_dir: Path | None = None) -> None:
        self.image, self.network, self._engine = image, network, engine
        folder = secrets_dir or os.environ.get("W2S_DOCKER_SECRETS_DIR")
        self.secrets_dir = Path(folder) if folder else None

    @classmethod
    def from_target(cls, target: str) -> DockerBackend:
        """`docker://ssh://user@host` or `docker://host:2376` (TLS): a remote engine."""
        return cls(engine=parse_engine(target))

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = engine_from_env()
        return self._engine

    def available(self) -> str | None:
        try:
            engine = self.engine
        except EngineError as exc:
            return str(exc)
        if engine.remote and self.secrets_dir is None:
            return ("a remote docker engine needs W2S_DOCKER_SECRETS_DIR: a folder both hosts mount at the same "
                    "path, where each agent's token file is written (docs/scale-out.md)")
        try:
            engine.client(timeout=5).ping()
        except Exception as exc:  # noqa: BLE001 - any failure means "no engine answers"
            return f"no Docker engine answers at {engine.base_url or 'the local socket'} ({type(exc).__name__}: {exc})"
        return None

    def ensure_network(self, client: Any) -> None:
        """The agents' network is internal: containers on it reach each other, never the outside directly."""
        if not client.networks.list(names=[self.network]):
            client.networks.create(self.network, driver="bridge", internal=True, labels={"w2s.role": "agents"})

    def start(self, spec: SandboxSpec, *, stdin: bytes | None = None) -> ContainerHandle:
        import docker

        if stdin is not None:
            raise ValueError("the docker backend does not feed stdin; bind a file into the workspace instead")
        if spec.egress:
            log.warning("docker backend: egress %s not reachable from a container (host loopback); attach the "
                        "service to the %s network instead", spec.egress, self.network)
        # The container runs as uid 1000 of the image, which must own its workspace to write it.
        prepare_workspace(spec.workspace, owner=(AGENT_UID, AGENT_UID))
        check_policy([spec.workspace, *(src for src, _ in spec.read_only_binds())])
        engine = self.engine
        if engine.remote and self.secrets_dir is None:
            raise EngineError("a remote docker engine needs W2S_DOCKER_SECRETS_DIR (a folder both hosts mount)")
        client = engine.client()
        self.ensure_network(client)
        secrets_file = write_secrets(spec, self.secrets_dir)
        try:
            kwargs = container_config(spec, image=self.image, network=self.network, secrets_file=secrets_file,
                                      direct_servers=not engine.remote)
            try:
                client.containers.get(kwargs["name"]).remove(force=True)  # a leftover from a crashed run
            except docker.errors.NotFound:
                pass
            return ContainerHandle(client.containers.run(**kwargs), spec.agent_id, secrets_file)
        except BaseException:
            if secrets_file is not None:
                shutil.rmtree(secrets_file.parent, ignore_errors=True)
            raise
