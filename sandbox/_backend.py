"""The backend interface and its registry: a backend is one module in `sandbox/backends/` that registers itself.

Semantics fit an orchestrator that runs one agent process per sandbox: `start` launches the spec's command inside
a fresh sandbox and returns a handle (output lines, wait, stop); `run` is start + wait for short commands (leak
scans, smoke tests). The workspace is the only thing that outlives a run.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from sandbox._spec import SandboxSpec
from trainer.registry import Registry, UnknownNameError


@dataclass(frozen=True)
class RunResult:
    returncode: int
    stdout: bytes
    stderr: bytes
    timed_out: bool = False


MAX_LINE_BYTES = 1 << 20
"""The most `lines` reads at once: a longer line comes in pieces (an agent printing gigabytes without a newline
must not grow the host's memory)."""


STDERR_TAIL_BYTES = 1 << 20
"""The most of an agent's stderr the host keeps (its end: where the reason a process died is)."""


def tail_of(chunks: Iterable[bytes], limit: int = STDERR_TAIL_BYTES) -> bytes:
    """The last `limit` bytes of a stream that arrives in chunks, holding at most one chunk plus `limit`."""
    held = bytearray()
    for chunk in chunks:
        held += chunk
        if len(held) > limit:
            del held[:-limit]
    return bytes(held)


def stream_lines(stream: IO[bytes], limit: int = MAX_LINE_BYTES) -> Iterator[bytes]:
    """Lines of a pipe (bwrap, none, kubectl logs), each piece ending at a newline or `limit` bytes long."""
    return iter(functools.partial(stream.readline, limit), b"")


def chunk_lines(chunks: Iterable[bytes], limit: int = MAX_LINE_BYTES) -> Iterator[bytes]:
    """Lines out of a stream that arrives in chunks (docker's log stream), cut like `stream_lines`: each piece
    ends at a newline or is `limit` bytes long, so at most one chunk plus `limit` bytes are held at a time.

    Only the bytes that arrived since the last chunk are searched for a newline: an agent printing a long line a
    byte at a time costs linear time, not a rescan of what is held for every byte."""
    held = bytearray()
    for chunk in chunks:
        searched = len(held)  # what is held has no newline in it (invariant kept below)
        held += chunk
        start = 0
        while True:
            end = held.find(b"\n", max(start, searched), start + limit)
            if end >= 0:
                yield bytes(held[start:end + 1])
                start = end + 1
            elif len(held) - start >= limit:
                yield bytes(held[start:start + limit])
                start += limit
            else:
                break
        del held[:start]
    if held:
        yield bytes(held)


class SandboxHandle(ABC):
    """A running agent process inside a sandbox."""

    agent_id: str
    backend: str

    @abstractmethod
    def lines(self) -> Iterator[bytes]:
        """stdout line by line as it arrives, a line over MAX_LINE_BYTES in pieces (stderr goes to `stderr_text` /
        the backend's log)."""

    @abstractmethod
    def poll(self) -> int | None: ...

    @abstractmethod
    def wait(self, timeout: float | None = None) -> int:
        """Exit status; raises TimeoutError when still running after `timeout` seconds."""

    @abstractmethod
    def stop(self, grace_s: float = 10.0) -> int:
        """SIGTERM, then SIGKILL after `grace_s`; tears the sandbox down and returns the exit status."""


class Backend(ABC):
    name: str = ""
    isolates_labels: bool = True
    """False only for `none`: callers that need isolation must refuse such a backend."""

    @abstractmethod
    def available(self) -> str | None:
        """None when this backend can run here, else the reason it cannot."""

    @abstractmethod
    def start(self, spec: SandboxSpec, *, stdin: bytes | None = None) -> SandboxHandle:
        """Check the policy, build the sandbox and start `spec.command` in it."""

    @classmethod
    def from_target(cls, target: str) -> Backend:
        """The backend for `<name>://<target>` (e.g. docker://ssh://ops@gpu-1); only backends with remote
        targets override this."""
        raise ValueError(f"sandbox backend {cls.name!r} takes no target, got {target!r}")

    def run(self, spec: SandboxSpec, *, timeout: float | None = None, stdin: bytes | None = None) -> RunResult:
        """Start, collect the output, wait; a command past `timeout` is stopped and reported as timed out."""
        handle = self.start(spec, stdin=stdin)
        return handle_result(handle, timeout)


def handle_result(handle: SandboxHandle, timeout: float | None) -> RunResult:
    out = bytearray()
    timed_out = False
    # Reading stdout to the end first keeps a chatty command from blocking on a full pipe.
    import threading

    reader = threading.Thread(target=lambda: out.extend(b"".join(handle.lines())), daemon=True)
    reader.start()
    try:
        code = handle.wait(timeout)
    except TimeoutError:
        timed_out, code = True, handle.stop(grace_s=2.0)
    reader.join(timeout=5.0)
    err = getattr(handle, "stderr_text", lambda: b"")()
    return RunResult(returncode=code, stdout=bytes(out), stderr=err, timed_out=timed_out)


BACKENDS: Registry[type[Backend]] = Registry("sandbox backend", package="sandbox.backends")
"""One backend per module of `sandbox/backends/`; importing it registers it (no list to edit)."""


def register(name: str) -> Callable[[type[Backend]], type[Backend]]:
    """Class decorator used by each backend module."""

    def wrap(cls: type[Backend]) -> type[Backend]:
        cls.name = name
        return BACKENDS.add(name, cls)

    return wrap


def backend_names() -> list[str]:
    return BACKENDS.names()


class NoSandboxError(RuntimeError):
    """No isolating backend works here and `none` was not asked for."""


def get_backend(name: str = "auto", *, allow_none: bool = False) -> Backend:
    """A backend by name (`docker://host` for a remote engine); `auto`: docker when an engine answers, else bwrap
    when it runs, else refuse.

    `none` is returned only when asked for by name (or `allow_none` with auto): it does not isolate anything.
    """
    if name != "auto":
        kind, _, target = name.partition("://")
        if kind not in BACKENDS:
            raise UnknownNameError(f"{BACKENDS.unknown(kind)}, or auto")
        cls = BACKENDS.get(kind)
        backend = cls.from_target(name) if target else cls()
        reason = backend.available()
        if reason:
            raise NoSandboxError(f"sandbox backend {name!r} cannot run here: {reason}")
        return backend
    reasons: list[str] = []
    for candidate in ("docker", "bwrap"):
        backend = BACKENDS.get(candidate)()
        reason = backend.available()
        if reason is None:
            return backend
        reasons.append(f"{candidate}: {reason}")
    if allow_none:
        return BACKENDS.get("none")()
    raise NoSandboxError(
        "no isolating sandbox backend works here (" + "; ".join(reasons) + "). Start a Docker engine or "
        "`apt-get install -y bubblewrap`; or ask for backend 'none' explicitly, knowing agents can then read labels"
    )
