"""The bwrap egress allow-list, attacked from inside a real sandbox: only the listed endpoints answer."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sandbox import SandboxPolicyError, SandboxSpec
from sandbox._egress import loopback_endpoints
from sandbox.backends.bwrap import BwrapBackend

pytestmark = [pytest.mark.bwrap, pytest.mark.usefixtures("bwrap_ok")]

# Tries every target and prints one JSON object: target -> the answer's body, or the error's class name.
PROBE = """
import json, socket, sys, urllib.request
out = {}
for target in sys.argv[1:]:
    try:
        if target.startswith('http'):
            out[target] = urllib.request.urlopen(target, timeout=5).read().decode()
        else:
            host, port = target.rsplit(':', 1)
            socket.create_connection((host, int(port)), timeout=5).close()
            out[target] = 'connected'
    except Exception as exc:
        out[target] = type(exc).__name__ + ': ' + str(getattr(exc, 'reason', exc))
print(json.dumps(out))
"""


class _Named(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = self.server.name.encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def servers() -> Iterator[dict[str, str]]:
    """Three HTTP servers on the host's loopback; each answers its own name."""
    started: dict[str, ThreadingHTTPServer] = {}
    for name in ("grader", "proxy", "private"):
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Named)
        server.name = name  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started[name] = server
    yield {name: f"http://127.0.0.1:{s.server_address[1]}" for name, s in started.items()}
    for server in started.values():
        server.shutdown()
        server.server_close()


def _spec(fake_home, command: list[str], **update: object) -> SandboxSpec:
    p = fake_home.paths
    spec = SandboxSpec(agent_id="net1", workspace=p.workspaces_dir / "net1", data_dir=p.data_dir, command=command)
    return spec.model_copy(update=update)


def test_only_the_listed_endpoints_answer(fake_home, servers: dict[str, str]) -> None:
    private_port = servers["private"].rsplit(":", 1)[1]
    targets = [f"{servers['grader']}/x", f"{servers['proxy']}/x", f"{servers['private']}/x",
               f"127.0.0.1:{private_port}", "8.8.8.8:53", "10.0.0.1:80", f"localhost:{private_port}"]
    spec = _spec(fake_home, ["python", "-c", PROBE, *targets], server_urls={"grader": f"{servers['grader']}/mcp"},
                 egress=[servers["proxy"]])
    result = BwrapBackend().run(spec, timeout=60)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out[f"{servers['grader']}/x"] == "grader"  # a server URL: reachable at the same address
    assert out[f"{servers['proxy']}/x"] == "proxy"  # an egress entry too
    denied = {t: v for t, v in out.items() if t not in (f"{servers['grader']}/x", f"{servers['proxy']}/x")}
    assert all("private" not in v and v != "connected" for v in denied.values()), denied
    assert "Unreachable" in out["8.8.8.8:53"] or "unreachable" in out["8.8.8.8:53"], out["8.8.8.8:53"]


def test_no_endpoints_means_no_network(fake_home, servers: dict[str, str]) -> None:
    port = servers["grader"].rsplit(":", 1)[1]
    code = PROBE + "import os; print(sorted(os.listdir('/sys/class/net')) if os.path.isdir('/sys/class/net') else '')"
    result = BwrapBackend().run(_spec(fake_home, ["python", "-c", code, f"127.0.0.1:{port}"]), timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Refused" in json.loads(result.stdout.splitlines()[0])[f"127.0.0.1:{port}"]


def test_exit_status_output_and_stop_pass_through_the_relay(fake_home, servers: dict[str, str]) -> None:
    spec = _spec(fake_home, ["sh", "-c", "echo one; echo two; exit 3"], egress=[servers["proxy"]])
    result = BwrapBackend().run(spec, timeout=60)
    assert (result.returncode, result.stdout) == (3, b"one\ntwo\n"), result.stderr
    handle = BwrapBackend().start(_spec(fake_home, ["sleep", "60"], egress=[servers["proxy"]]))
    time.sleep(0.5)
    began = time.monotonic()
    handle.stop(grace_s=5)
    assert time.monotonic() - began < 10 and not handle.runtime_dir.exists()


@pytest.mark.parametrize("url", ["http://example.com:443", "http://10.1.2.3:80", "http://[::1]:8001"])
def test_non_loopback_endpoints_are_refused(fake_home, url: str) -> None:
    with pytest.raises(SandboxPolicyError, match="loopback"):
        BwrapBackend().start(_spec(fake_home, ["true"], egress=[url]))


def test_localhost_and_duplicates_fold_into_one_listener() -> None:
    assert loopback_endpoints([("localhost", 8001), ("127.0.0.1", 8001), ("127.0.0.1", 8002)]) == [
        ("127.0.0.1", 8001), ("127.0.0.1", 8002)]
    with pytest.raises(SandboxPolicyError, match="share port"):
        loopback_endpoints([("127.0.0.1", 8001), ("127.0.0.2", 8001)])


def test_egress_must_be_base_urls(tmp_path: Path) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        SandboxSpec(agent_id="a", workspace=tmp_path, command=["true"], egress=["127.0.0.1:8001"])
