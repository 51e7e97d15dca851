from __future__ import annotations

import pytest

from sandbox import NoSandboxError, backend_names, get_backend
from sandbox.backends.bwrap import BwrapBackend
from sandbox.backends.docker import DockerBackend


def test_three_backends_are_registered() -> None:
    assert {"docker", "bwrap", "none"} <= set(backend_names())


def test_auto_prefers_docker_then_bwrap_then_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(DockerBackend, "available", lambda self: None)
    assert get_backend("auto").name == "docker"
    monkeypatch.setattr(DockerBackend, "available", lambda self: "no engine")
    monkeypatch.setattr(BwrapBackend, "available", lambda self: None)
    assert get_backend("auto").name == "bwrap"
    monkeypatch.setattr(BwrapBackend, "available", lambda self: "no bwrap")
    with pytest.raises(NoSandboxError, match="labels"):
        get_backend("auto")
    backend = get_backend("auto", allow_none=True)
    assert backend.name == "none" and not backend.isolates_labels


def test_unknown_backend_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="bwrap") as caught:
        get_backend("podman")
    assert str(caught.value) == "unknown sandbox backend 'podman'; available: " + ", ".join(backend_names()) + ", or auto"
    with pytest.raises(KeyError, match="podman"):
        get_backend("podman://ssh://ops@gpu-1")


def test_named_backend_that_cannot_run_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(DockerBackend, "available", lambda self: "no engine")
    with pytest.raises(NoSandboxError, match="no engine"):
        get_backend("docker")
