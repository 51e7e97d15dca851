"""Inside a bwrap sandbox with its own network namespace: make each allowed host endpoint answer at its address.

    python -I relay.py --listen 127.0.0.1:8001=/run/w2s-net/0.sock ... -- COMMAND...

Copied by the host into a folder bound read-only into the sandbox and started with `python -I` before the agent
command (stdlib only: nothing the agent wrote can be imported). It listens on 127.0.0.1:PORT inside the
namespace and pipes every connection to a unix socket whose host side connects to that one endpoint; there is
no other way out of the namespace. Then it runs COMMAND as its child, forwards SIGTERM/SIGINT/SIGHUP to it and
exits with its status. The agent may kill the relay; it then only loses its own network.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
            try:
                sock.shutdown(how)
            except OSError:
                pass


def bridge(a: socket.socket, b: socket.socket) -> None:
    """Pipe both ways until both directions end, then close both (a long-lived relay must not leak fds)."""
    back = threading.Thread(target=_pipe, args=(b, a), daemon=True)
    back.start()
    _pipe(a, b)
    back.join()
    a.close()
    b.close()


def _serve(listener: socket.socket, path: str) -> None:
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.connect(path)
        except OSError:
            client.close()
            upstream.close()
            continue
        threading.Thread(target=bridge, args=(client, upstream), daemon=True).start()


def _listen(spec: str) -> tuple[socket.socket, str]:
    address, path = spec.split("=", 1)
    host, port = address.rsplit(":", 1)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, int(port)))
    listener.listen(128)
    return listener, path


def main(argv: list[str]) -> int:
    split = argv.index("--")
    listens = [argv[i + 1] for i, a in enumerate(argv[:split]) if a == "--listen"]
    command = argv[split + 1:]
    listeners = [_listen(spec) for spec in listens]  # bound before the agent starts: no window to race
    child = os.fork()
    if child == 0:
        for listener, _ in listeners:
            listener.close()
        try:
            os.execvp(command[0], command)
        except OSError as exc:
            os.write(2, f"w2s relay: cannot run {command[0]!r}: {exc}\n".encode())
        os._exit(127)
    # The agent's stdout must end when the agent ends: the relay keeps no copy of stdin/stdout.
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda s, _f: os.kill(child, s))
    for listener, path in listeners:
        threading.Thread(target=_serve, args=(listener, path), daemon=True).start()
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
