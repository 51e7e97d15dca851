"""Agents on remote sandboxes (`--sandbox k8s`, `--sandbox docker://ssh://host`): checked before a launch starts,
given the public server URLs of the trusted host's TLS reverse proxy, and shown where they run.

A remote agent cannot reach this host's loopback servers or model proxies; it reaches `<public>/<server>/mcp` and
`<public>/model/<agent>` through the reverse proxy (docs/scale-out.md, "Exposing the servers to remote agents").
"""

from __future__ import annotations

from urllib.parse import urlsplit

from sandbox import BACKENDS, Backend, SandboxSpec


def remote_sandbox(backend: Backend) -> bool:
    """Agents run on another host or cluster: they cannot reach this host's loopback servers or proxies."""
    if getattr(backend, "remote", False) is True:
        return True
    engine = getattr(backend, "engine", None)  # docker: a remote engine
    return bool(getattr(engine, "remote", False))


def sandbox_location(backend: Backend, spec: SandboxSpec) -> str:
    """Where an agent runs, as the dashboard shows it: k8s://context/namespace/pod, docker://host, bwrap, ..."""
    locate = getattr(backend, "location", None)
    if callable(locate):
        return str(locate(spec))
    engine = getattr(backend, "engine", None)
    if getattr(engine, "remote", False):
        return f"{backend.name}://{engine.base_url}"  # type: ignore[union-attr]
    return backend.name


def public_urls(public: str, servers: list[str]) -> dict[str, str]:
    """Server URLs through the reverse proxy, which routes `/<server>/*` to the server's own port."""
    return {name: f"{public.rstrip('/')}/{name}/mcp" for name in servers}


def check_sandbox(sandbox: str, public_url: str | None) -> Backend:
    """The named sandbox backend answers here, and agents on a remote one can reach the servers over TLS;
    ValueError says what is wrong and what to give instead. What needs no engine is checked first."""
    kind, _, target = sandbox.partition("://")
    if kind not in BACKENDS:
        raise ValueError(f"--sandbox {sandbox}: {BACKENDS.unknown(kind)}, or auto")
    try:
        cls = BACKENDS.get(kind)
        backend = cls.from_target(sandbox) if target else cls()
        remote = remote_sandbox(backend)
    except ValueError as exc:  # a bad target: an engine address without TLS, a k8s target with too many parts
        raise ValueError(f"--sandbox {sandbox}: {exc}") from None
    if remote:
        public = (public_url or "").rstrip("/")
        if not public.startswith("https://") or not urlsplit(public).hostname:
            raise ValueError(
                f"--sandbox {sandbox} runs agents on other hosts, which reach the servers only through the TLS "
                "reverse proxy on this host: give --public-url https://NAME (or W2S_PUBLIC_URL); see "
                "docs/scale-out.md, 'Exposing the servers to remote agents'")
        settings = getattr(backend, "settings", None)
        proxy = getattr(settings, "proxy", None)
        if kind == "k8s" and not (getattr(settings, "allow_cidrs", None) or proxy):
            raise ValueError("--sandbox k8s: the agents' NetworkPolicy lets them reach nothing outside the cluster; "
                             "set W2S_K8S_ALLOW_CIDRS to this host's proxy address (e.g. 10.0.0.5/32) or "
                             "W2S_K8S_PROXY to an egress proxy that reaches it")
        if kind == "k8s" and not proxy and (urlsplit(public).port or 443) != 443:
            raise ValueError(f"--public-url {public}: the agents' NetworkPolicy opens port 443 to "
                             "W2S_K8S_ALLOW_CIDRS only; serve the reverse proxy on 443")
    reason = backend.available()
    if reason:
        raise ValueError(f"--sandbox {sandbox} cannot run here: {reason}")
    return backend
