"""The k8s backend: what it submits, checked against the shared policy (tests/sandbox/policy.py) like compose and
docker; how it reads a pod's status; and a real cluster run that skips, saying why, where no cluster answers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from sandbox import NoSandboxError, SandboxSpec, get_backend
from sandbox._backend import handle_result
from sandbox.backends.k8s import START_FAILED, K8sBackend, PodHandle
from sandbox.k8s_cluster import K8sSettings
from tests.sandbox.policy import check_agent, check_hardening, from_pod

TOKEN = "w2s_k8sBackendTok3nXyzXyzXyz"


@pytest.fixture
def spec(fake_home) -> SandboxSpec:
    p = fake_home.paths
    return SandboxSpec(agent_id="evolve3", workspace=p.workspaces_dir / "evolve3", token=TOKEN, gpu=True,
                       server_urls={"grader": "https://w2s.example.org/grader/mcp",
                                    "train": "https://w2s.example.org/train/mcp"},
                       command=["python", "-m", "orchestrator.agents.evolve", "--dataset", "toy"])


@pytest.mark.parametrize("results", ["shared", "copy"])
def test_what_the_backend_submits_obeys_the_policy(spec: SandboxSpec, fake_home, results: str) -> None:
    backend = K8sBackend(K8sSettings(namespace="agents", image="reg.example.org/w2s-lab-agent:1", results=results,
                                     allow_cidrs=["10.0.0.5/32"], proxy="http://egress.agents.svc:3128"))
    docs = backend.documents(spec, stdin=b'{"prompt": "go"}')
    assert [d["kind"] for d in docs] == ["Namespace", "NetworkPolicy", "Secret", "Pod"]
    assert all(d["metadata"].get("namespace", d["metadata"]["name"]) == "agents" for d in docs)
    pod = docs[-1]
    private = fake_home.paths.private_dirs()
    check_agent(from_pod(pod), private)
    for container in pod["spec"]["containers"][1:]:
        view = from_pod(pod, container=container["name"])
        check_hardening(view)
        assert view.uid == 1000 and view.read_only_root and all(m.read_only for m in view.mounts)
    assert len(pod["spec"]["containers"]) == (2 if results == "copy" else 1)
    assert pod["spec"]["activeDeadlineSeconds"] == K8sSettings().active_deadline_s
    assert TOKEN not in json.dumps(pod) and TOKEN in json.dumps(docs[2])
    egress = docs[1]["spec"]["egress"]
    assert {"ipBlock": {"cidr": "10.0.0.5/32"}} in egress[-1]["to"] and docs[1]["spec"]["ingress"] == []
    env = {e["name"]: e["value"] for e in pod["spec"]["containers"][0]["env"]}
    assert env["W2S_GRADER_URL"] == "https://w2s.example.org/grader/mcp"
    assert env["HTTPS_PROXY"] == "http://egress.agents.svc:3128"
    assert backend.location(spec) == "k8s://(current)/agents/w2s-agent-evolve3"


def _pod(phase: str, state: dict | None = None, conditions: list | None = None) -> dict:
    status: dict = {"phase": phase, "conditions": conditions or []}
    if state is not None:
        status["containerStatuses"] = [{"name": "agent", "state": state}]
    return {"status": status}


def test_pod_status_is_read_as_kubernetes_reports_it(spec: SandboxSpec) -> None:
    """The status documents a cluster answers, read into exit codes (no cluster is contacted here)."""
    handle = PodHandle(K8sBackend(K8sSettings(start_timeout_s=60)), spec)
    unscheduled = _pod("Pending", conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}])
    assert handle._observe(unscheduled) is None and not handle._running.is_set()
    assert handle._observe(_pod("Pending", {"waiting": {"reason": "ContainerCreating"}})) is None
    assert handle._observe(_pod("Running", {"running": {"startedAt": "now"}})) is None and handle._running.is_set()
    assert handle._observe(_pod("Succeeded", {"terminated": {"exitCode": 0, "reason": "Completed"}})) == 0
    assert handle._observe(_pod("Failed", {"terminated": {"exitCode": 137, "reason": "OOMKilled"}})) == 137
    assert "OOMKilled" in handle.stderr_text().decode()
    # the termination message is the agent's (/dev/termination-log): shown short and without terminal escapes
    hostile = {"terminated": {"exitCode": 1, "reason": "OOMKilled", "message": "\x1b[2J\x1b]0;pwned\x07" + "m" * 999}}
    assert handle._observe(_pod("Failed", hostile)) == 1
    assert "\x1b" not in handle.stderr_text().decode() and len(handle.stderr_text()) < 1000
    assert handle._observe(None) == -int(signal.SIGKILL)

    fresh = PodHandle(K8sBackend(K8sSettings(start_timeout_s=60)), spec)
    bad_image = _pod("Pending", {"waiting": {"reason": "InvalidImageName", "message": "bad ref"}})
    assert fresh._observe(bad_image) == START_FAILED and "InvalidImageName" in fresh.stderr_text().decode()
    late = PodHandle(K8sBackend(K8sSettings(start_timeout_s=0.01)), spec)
    time.sleep(0.05)
    assert late._observe(unscheduled) == START_FAILED and "Unschedulable" in late.stderr_text().decode()


def test_without_kubectl_the_backend_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(NoSandboxError, match="kubectl not found.*install kubectl"):
        get_backend("k8s")
    with pytest.raises(NoSandboxError, match="k8s://gpu/agents"):
        get_backend("k8s://gpu/agents")


def _cluster_reason() -> str | None:
    if shutil.which("kubectl") is None:
        return "kubectl is not installed"
    backend = K8sBackend()
    reason = backend.available()
    if reason:
        return reason
    for claim in (backend.settings.workspaces_claim, backend.settings.public_claim):
        if backend.kube.get("persistentvolumeclaim", claim) is None:
            return f"namespace {backend.settings.namespace!r} has no claim {claim!r} (docs/scale-out.md, section 6)"
    if not os.environ.get("W2S_TEST_K8S_IMAGE"):
        return "set W2S_TEST_K8S_IMAGE to the agent image (sandbox/Dockerfile) pushed where the cluster pulls from"
    return None


@pytest.mark.slow
def test_agent_pod_on_a_real_cluster(fake_home, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where kubectl reaches a cluster (W2S_K8S_CONTEXT / W2S_K8S_NAMESPACE with the w2s-workspaces and w2s-public
    claims in it): a pod runs, its log streams, its results come back as data, the leak scan runs, the pod and its
    Secret are deleted; a second pod is stopped (deleted) while it runs."""
    reason = _cluster_reason()
    if reason:
        pytest.skip(f"no Kubernetes cluster reachable here ({reason[:200]}); the backend's documents are checked "
                    "against the shared policy above instead; docs/scale-out.md says what was not run")
    monkeypatch.setenv("W2S_K8S_IMAGE", os.environ["W2S_TEST_K8S_IMAGE"])
    backend = K8sBackend(K8sSettings.from_env(results="copy", start_timeout_s=600))
    workspace = fake_home.paths.workspaces_dir / "k8stest1"
    program = ("import json, os, pathlib; pathlib.Path('/w2s/workspace/runs').mkdir(exist_ok=True); "
               "pathlib.Path('/w2s/workspace/runs/out.json').write_text('{\"ok\": true}'); "
               "print(json.dumps({'event': 'hello', 'token_set': bool(os.environ.get('W2S_TOKEN'))}))")
    spec = SandboxSpec(agent_id="k8stest1", workspace=workspace, token=TOKEN, command=["python", "-c", program])
    handle = backend.start(spec)
    result = handle_result(handle, 600)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {"event": "hello", "token_set": True}
    assert json.loads((workspace / "runs" / "out.json").read_text()) == {"ok": True}
    assert handle.results is not None and handle.results.scan is not None and handle.results.scan["clean"]
    assert backend.kube.get("secret", "w2s-agent-k8stest1-secrets") is None
    gone = time.monotonic() + 120  # a pod's deletion completes asynchronously
    while backend.kube.get("pod", "w2s-agent-k8stest1") is not None and time.monotonic() < gone:
        time.sleep(2)
    assert backend.kube.get("pod", "w2s-agent-k8stest1") is None
    sleeper = spec.model_copy(update={"agent_id": "k8stest2", "workspace": fake_home.paths.workspaces_dir / "k8stest2",
                                      "command": ["python", "-c", "import time; time.sleep(600)"]})
    handle = backend.start(sleeper)
    assert handle.poll() is None
    deadline = time.monotonic() + 300
    while not handle._running.is_set() and handle.poll() is None and time.monotonic() < deadline:
        time.sleep(2)
    handle.stop(grace_s=5)
    assert handle.poll() is not None


def test_log_timestamps_compare_in_time_order() -> None:
    """kubectl --timestamps trims trailing zeros of the fraction; a resumed stream skips what was already seen."""
    from sandbox.backends.k8s import _stamp

    assert _stamp(b"2026-11-29T13:00:00.5Z") > _stamp(b"2026-11-29T13:00:00.123456789Z")
    assert _stamp(b"2026-11-29T13:00:01Z") > _stamp(b"2026-11-29T13:00:00.999999999Z")
    assert _stamp(b"2026-11-29T13:00:00.1Z") == _stamp(b"2026-11-29T13:00:00.100000000Z")


def test_a_hostile_results_stream_is_refused_and_the_session_still_ends(spec: SandboxSpec, tmp_path: Path) -> None:
    """The end of a copy-mode session with the cluster's side played by a stand-in for kubectl (no cluster here):
    the collect stream is the agent's (a good file, then a sparse member that would expand to 16 GiB), its stderr
    carries escape codes. What came before the bad member stays as data, the refusal is recorded without escapes,
    the leak scan still runs, and the pod and its Secret are deleted."""
    import io
    import sys
    import tarfile

    good = io.BytesIO()
    with tarfile.open(fileobj=good, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("runs/out.json")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"{}"))
        info = tarfile.TarInfo("holes")
        info.pax_headers = {"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.realsize": str(16 << 30)}
        tar.addfile(info)
    (tmp_path / "stream.tar").write_bytes(good.getvalue())
    calls = tmp_path / "calls.jsonl"
    kubectl = tmp_path / "kubectl"
    kubectl.write_text(f"""#!{sys.executable}
import json, sys
args = sys.argv[1:]
with open({str(calls)!r}, "a") as out:
    out.write(json.dumps(args) + "\\n")
if "exec" in args:
    sys.stderr.write("skipped /w2s/workspace/\\x1b]0;owned\\x07\\x1b[2Jx: Permission denied\\n")
    sys.stdout.buffer.write(open({str(tmp_path / "stream.tar")!r}, "rb").read())
    sys.exit(1)
""")
    kubectl.chmod(0o755)
    spec.workspace.mkdir(parents=True, exist_ok=True)
    handle = PodHandle(K8sBackend(K8sSettings(kubectl=str(kubectl), results="copy")), spec)
    handle._running.set()
    handle._finish(0)
    assert handle._code == 0 and handle.results is not None and handle.results.scan is not None
    assert (spec.workspace / "runs" / "out.json").read_bytes() == b"{}" and not (spec.workspace / "holes").exists()
    errors = handle.stderr_text().decode()
    assert "refused" in errors and "sparse" in errors and "\x1b" not in errors and "\x07" not in errors, errors
    deleted = [json.loads(line) for line in calls.read_text().splitlines() if "delete" in line]
    assert {a[a.index("delete") + 1:a.index("delete") + 3][1] for a in deleted} == {"w2s-agent-evolve3",
                                                                                  "w2s-agent-evolve3-secrets"}


def test_a_long_log_line_comes_in_bounded_pieces(spec: SandboxSpec, tmp_path: Path) -> None:
    """`kubectl logs --timestamps` through a stand-in: a 3 MiB line comes in pieces of at most MAX_LINE_BYTES, the
    timestamp taken off its first piece only (the rest are the agent's bytes, never parsed as timestamps)."""
    import sys

    from sandbox._backend import MAX_LINE_BYTES

    kubectl = tmp_path / "kubectl"
    kubectl.write_text(f"""#!{sys.executable}
import sys
if "logs" in sys.argv:
    sys.stdout.write("2026-11-29T13:00:00.5Z " + "y" * (3 * 2**20) + "\\n2026-11-29T13:00:01Z end\\n")
""")
    kubectl.chmod(0o755)
    handle = PodHandle(K8sBackend(K8sSettings(kubectl=str(kubectl))), spec)
    handle._running.set()
    handle._ended.set()  # one log stream, then done
    pieces = list(handle.lines())
    assert max(len(p) for p in pieces) <= MAX_LINE_BYTES and len(pieces) >= 4
    assert b"".join(pieces) == b"y" * (3 * 2**20) + b"\nend\n"


def test_a_failed_leak_scan_still_deletes_the_pod_and_its_secret(spec: SandboxSpec, tmp_path: Path) -> None:
    """The Secret holds the agent's token: whatever breaks the end of the session's scan, it is deleted, and the
    session says the scan did not run."""
    import sys

    calls = tmp_path / "calls.txt"
    kubectl = tmp_path / "kubectl"
    kubectl.write_text(f"#!{sys.executable}\nimport sys\nopen({str(calls)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n")
    kubectl.chmod(0o755)
    spec.workspace.mkdir(parents=True, exist_ok=True)
    (spec.workspace / "notes.jsonl").write_text('{"id": "r1", "label": 1}\n' * 20)  # text the scanner reads
    handle = PodHandle(K8sBackend(K8sSettings(kubectl=str(kubectl), results="shared")), spec)
    handle._fingerprint = lambda: "not a fingerprint"  # the scanner fails on it, not with an OSError
    handle._running.set()
    handle._finish(0)
    assert handle._code == 0 and "leak scan over the workspace failed" in handle.stderr_text().decode()
    assert handle.results is not None and handle.results.scan is None
    deleted = calls.read_text()
    assert "delete pod w2s-agent-evolve3" in deleted and "delete secret w2s-agent-evolve3-secrets" in deleted
