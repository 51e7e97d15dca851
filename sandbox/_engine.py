"""Which Docker engine the docker backend talks to: the local one, or a remote engine over SSH or TLS.

    --sandbox docker                       the local engine (DOCKER_HOST / the default socket)
    --sandbox docker://ssh://ops@gpu-1     a remote engine through SSH (the operator's ssh keys and known_hosts)
    --sandbox docker://gpu-1:2376          a remote engine over TCP, TLS with client certificates (required)
    --sandbox docker://tcp://gpu-1:2376    the same, spelled out

TLS files come from W2S_DOCKER_CERT_PATH (else DOCKER_CERT_PATH): ca.pem, cert.pem, key.pem, docker's own layout.
A plain-TCP engine is refused unless it is on loopback: the Docker API is root on its host, without TLS anyone on
the network could drive it. `engine_from_env()` reads W2S_DOCKER_HOST (else DOCKER_HOST) the same way.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

_SCHEMES = ("ssh://", "tcp://", "unix://", "npipe://")


class EngineError(ValueError):
    """The engine address or its TLS files are unusable; the message says what to fix."""


@dataclass(frozen=True)
class Engine:
    base_url: str | None = None
    """None: the local engine as `docker.from_env()` finds it."""
    ca_cert: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None

    @property
    def remote(self) -> bool:
        """On another host: bind sources and the secrets file are paths on that host (see docs/scale-out.md)."""
        if self.base_url is None or self.base_url.startswith(("unix://", "npipe://")):
            return False
        host = urlsplit(self.base_url).hostname or ""
        return not _loopback(host)

    @property
    def tls(self) -> bool:
        return self.ca_cert is not None

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of `docker.DockerClient` (pure: checked by tests without an engine)."""
        if self.base_url is None:
            return {}
        kwargs: dict[str, Any] = {"base_url": self.base_url}
        if self.base_url.startswith("ssh://"):
            kwargs["use_ssh_client"] = True  # the system ssh: the operator's config, agent and known_hosts
        if self.tls:
            from docker.tls import TLSConfig

            cert = (str(self.client_cert), str(self.client_key)) if self.client_cert and self.client_key else None
            kwargs["tls"] = TLSConfig(client_cert=cert, ca_cert=str(self.ca_cert), verify=True)
        return kwargs

    def client(self, timeout: int = 60) -> Any:
        import docker

        if self.base_url is None:
            return docker.from_env(timeout=timeout)
        return docker.DockerClient(timeout=timeout, **self.client_kwargs())


def parse_engine(target: str | None, cert_path: str | None = None) -> Engine:
    """An `Engine` from `docker://...` (or a bare DOCKER_HOST value); None or "" is the local engine."""
    if not target:
        return Engine()
    address = target.removeprefix("docker://")
    if not address.startswith(_SCHEMES):
        address = f"tcp://{address}"
    parts = urlsplit(address)
    if parts.scheme in ("unix", "npipe"):
        return Engine(address)
    if not parts.hostname:
        raise EngineError(f"no host in docker engine address {target!r} (docker://host:2376 or docker://ssh://u@h)")
    if parts.scheme == "ssh":
        return Engine(address)
    folder = cert_path or os.environ.get("W2S_DOCKER_CERT_PATH") or os.environ.get("DOCKER_CERT_PATH")
    if not folder:
        if _loopback(parts.hostname):
            return Engine(address)
        raise EngineError(
            f"refusing plain TCP to the docker engine at {parts.hostname}: its API is root on that host. Use TLS "
            "(set W2S_DOCKER_CERT_PATH to a folder with ca.pem, cert.pem, key.pem) or docker://ssh://user@host")
    files = {name: Path(folder).expanduser() / name for name in ("ca.pem", "cert.pem", "key.pem")}
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise EngineError(f"TLS files missing for the docker engine at {parts.hostname}: {', '.join(missing)}")
    return Engine(address, files["ca.pem"], files["cert.pem"], files["key.pem"])  # the SDK speaks https with tls


def engine_from_env() -> Engine:
    return parse_engine(os.environ.get("W2S_DOCKER_HOST") or os.environ.get("DOCKER_HOST"))


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
