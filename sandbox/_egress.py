"""Host side of the bwrap egress allow-list: one unix socket per allowed endpoint, each piped to that endpoint.

The sandbox has its own network namespace (only `lo`); these sockets, bound read-only into it, are its only
way out, and each reaches one host loopback endpoint fixed here by the operator. The inside half is
`sandbox/_relay.py`.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import threading
from pathlib import Path

from sandbox._relay import bridge
from sandbox._spec import SandboxPolicyError

INSIDE_NET = Path("/run/w2s-net")
RELAY_SOURCE = Path(__file__).resolve().with_name("_relay.py")


def loopback_endpoints(endpoints: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """The endpoints as (IPv4 loopback address, port); refuses any that is not on the host's loopback."""
    out: dict[int, tuple[str, int]] = {}
    for host, port in endpoints:
        address = "127.0.0.1" if host == "localhost" else host
        try:
            ok = ipaddress.ip_address(address).is_loopback and ipaddress.ip_address(address).version == 4
        except ValueError:
            ok = False
        if not ok:
            raise SandboxPolicyError(
                f"bwrap sandboxes reach host loopback endpoints only (127.x.x.x or localhost), got {host}:{port}; "
                "serve it on the host's loopback (e.g. a per-agent proxy) and list that URL in `egress`")
        if port in out and out[port] != (address, port):
            raise SandboxPolicyError(f"two allowed endpoints share port {port}; inside they would collide")
        out[port] = (address, port)
    return list(out.values())


class HostRelay:
    """Listeners in `folder` (bound at /run/w2s-net inside); `close()` stops them and every open connection."""

    def __init__(self, folder: Path, endpoints: list[tuple[str, int]], owner: tuple[int, int] | None) -> None:
        self.folder, self.endpoints = folder, endpoints
        self._sockets: list[socket.socket] = []
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        folder.mkdir(mode=0o755)
        shutil.copyfile(RELAY_SOURCE, folder / "relay.py")
        for index, endpoint in enumerate(endpoints):
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            path = folder / f"{index}.sock"
            listener.bind(str(path))
            # Only the agent user (or the operator) may connect: other local users get no free ride out.
            if owner is not None and os.geteuid() == 0:
                os.chown(path, *owner)
            os.chmod(path, 0o600)
            listener.listen(128)
            self._sockets.append(listener)
            threading.Thread(target=self._serve, args=(listener, endpoint), daemon=True,
                             name=f"w2s-egress-{endpoint[1]}").start()

    def relay_argv(self, python: str, command: list[str]) -> list[str]:
        """The inside command: the relay, listening at every endpoint's own address, then the agent's argv."""
        argv = [python, "-I", str(INSIDE_NET / "relay.py")]
        for index, (host, port) in enumerate(self.endpoints):
            argv += ["--listen", f"{host}:{port}={INSIDE_NET / f'{index}.sock'}"]
        return [*argv, "--", *command]

    def _serve(self, listener: socket.socket, endpoint: tuple[str, int]) -> None:
        while not self._closed.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(endpoint, timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._bridge, args=(client, upstream), daemon=True).start()

    def _bridge(self, client: socket.socket, upstream: socket.socket) -> None:
        with self._lock:
            self._open |= {client, upstream}
        try:
            bridge(client, upstream)
        finally:
            with self._lock:
                self._open -= {client, upstream}

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            live = [*self._sockets, *self._open]
        for sock in live:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self._sockets.clear()
