"""Kubernetes: one agent session is one Pod in the agents' namespace, submitted and watched through kubectl.

    --sandbox k8s                      settings from W2S_K8S_* / the [k8s] table (sandbox/k8s_cluster.py)
    --sandbox k8s://CONTEXT/NAMESPACE  that kubeconfig context and namespace

`start` applies `sandbox.k8s.documents(...)`: the namespace (restricted Pod Security), the NetworkPolicy (agents
reach DNS, w2s server/egress pods and the operator's CIDRs on 443, nothing reaches them), the agent's Secret (token,
API key, stdin) and its Pod (non-root, read-only root, no capabilities, no service-account token, its own
workspace subPath read-write, the public claim read-only, no labels/state/tokens claim; GPUs as resource limits).
The handle streams the agent container's log (stdout and stderr together: Kubernetes keeps one stream), waits
with a start deadline (a pod that cannot be scheduled or pulled is deleted with the reason) and the pod's
`activeDeadlineSeconds`, and `stop` deletes the pod.

Results: with `results=shared` the host mounts the workspaces claim at its workspaces folder and reads results
there as for any sandbox. With `results=copy` the pod has a read-only `collect` container; when the agent exits,
the host runs a tar of the workspace in it and extracts the stream beneath the host workspace
(sandbox/k8s_results.py: no link created or followed). Either way the leak scan runs over the workspace on the
host at the end of the session, and the pod and its Secret are deleted.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import Any

from sandbox._backend import Backend, SandboxHandle, register, stream_lines
from sandbox._spec import SandboxSpec, check_policy
from sandbox._user import prepare_workspace
from sandbox.k8s import AGENT_UID, COLLECT_CONTAINER, COLLECT_TAR, documents, pod_name, secret_name
from sandbox.k8s_cluster import K8sSettings, Kubectl, KubectlError, last_line
from sandbox.k8s_results import (
    Collected,
    ResultsRefused,
    extract_beneath,
    operator_fingerprint,
    printable,
    scan_results,
)

log = logging.getLogger(__name__)
FATAL_WAITING = frozenset({"InvalidImageName", "CreateContainerConfigError", "ErrImageNeverPull"})
"""Waiting reasons that never resolve by themselves: fail the session at once instead of at the start deadline."""
START_FAILED = 125
"""Exit status of a session whose pod never ran (docker's convention for a container that could not start)."""
POLL_S = 2.0


def container_state(pod: dict[str, Any], name: str = "agent") -> dict[str, Any]:
    for status in pod.get("status", {}).get("containerStatuses", []) or []:
        if status.get("name") == name:
            return status.get("state", {}) or {}
    return {}


class PodHandle(SandboxHandle):
    """One agent pod, as the launch's supervisor sees it (`poll`, `wait`, `stop`, `lines`, `stderr_text`).

    `poll` asks the API server at most every POLL_S seconds (nine agents polled twice a second would be nine kubectl
    calls each time). When the agent container has exited, the end of the session (log drained, results back, leak
    scan, pod and Secret deleted) runs on its own thread; `poll` answers the exit status once that is done."""

    def __init__(self, backend: K8sBackend, spec: SandboxSpec) -> None:
        self.agent_id, self.backend = spec.agent_id, "k8s"
        self.kube, self.settings, self.spec = backend.kube, backend.settings, spec
        self.pod, self.secret = pod_name(spec), secret_name(spec)
        self.where = backend.location(spec)
        self._fingerprint = backend.fingerprint
        self._lock = threading.Lock()
        self._code: int | None = None
        self._finisher: threading.Thread | None = None
        self._errors: list[str] = []
        self._started = time.monotonic()
        self._checked = 0.0
        self._running = threading.Event()
        self._ended = threading.Event()
        self._reading = threading.Event()
        self._logs_done = threading.Event()
        self.results: Collected | None = None

    # ---- output
    def lines(self) -> Iterator[bytes]:
        """The agent container's log, followed until it exits; a stream the API server drops is resumed from the
        last timestamp seen. Whoever supervises the handle polls it; this only waits for the container to start."""
        self._reading.set()
        try:
            while not self._running.wait(POLL_S):
                if self._ended.is_set():
                    return  # never ran: nothing was logged
            last: str | None = None
            while True:
                args = ["logs", "--follow", "--timestamps", self.pod, "-c", "agent"]
                proc = self.kube.popen(*args, *([f"--since-time={last}"] if last else []),
                                       stderr=subprocess.DEVNULL)
                assert proc.stdout is not None
                piece = skip = False
                try:
                    for raw in stream_lines(proc.stdout):
                        # a line over MAX_LINE_BYTES comes in pieces: only the first one starts with its timestamp
                        first, piece = not piece, not raw.endswith(b"\n")
                        if not first:
                            if not skip:
                                yield raw
                            continue
                        stamp, _, line = raw.partition(b" ")
                        at = _stamp(stamp)
                        skip = last is not None and at <= _stamp(last.encode())
                        if skip:
                            continue  # --since-time repeats the second it starts from
                        last = stamp.decode(errors="replace")
                        yield line
                finally:
                    proc.kill()
                    proc.wait()
                if self._ended.is_set() or self.poll() is not None or self._finisher is not None:
                    return
                time.sleep(POLL_S)
        finally:
            self._logs_done.set()

    def stderr_text(self) -> bytes:
        return "\n".join(self._errors).encode()

    # ---- state
    def poll(self) -> int | None:
        with self._lock:
            if self._code is not None or self._finisher is not None:
                return self._code
            if time.monotonic() - self._checked < POLL_S:
                return None
            self._checked = time.monotonic()
            try:
                pod = self.kube.get("pod", self.pod)
            except KubectlError as exc:
                log.warning("k8s: %s: %s", self.pod, exc)  # a blip of the API server: ask again next time
                return None
            code = self._observe(pod)
            if code is not None:
                self._finisher = threading.Thread(target=self._finish, args=(code,), daemon=True,
                                                  name=f"k8s-finish-{self.agent_id}")
                self._finisher.start()
            return None

    def _observe(self, pod: dict[str, Any] | None) -> int | None:
        if pod is None:
            self._errors.append(f"pod {self.pod} is gone (deleted outside the launch?)")
            return -int(signal.SIGKILL)
        state = container_state(pod)
        if "running" in state or "terminated" in state:
            self._running.set()
        if "terminated" in state:
            done = state["terminated"]
            if done.get("reason") not in (None, "Completed", "Error"):
                # the message may be the agent's own (/dev/termination-log): data, kept short
                message = printable(str(done.get("message", "")))
                self._errors.append(f"agent container {printable(str(done.get('reason')))}: {message}")
            return int(done.get("exitCode", 1))
        status = pod.get("status", {})
        if status.get("phase") in ("Failed", "Succeeded"):
            self._errors.append(f"pod {status.get('phase')}: {status.get('reason', '')} {status.get('message', '')}")
            return 1
        waiting = state.get("waiting", {})
        reason = waiting.get("reason") or next((c.get("reason") for c in status.get("conditions", []) or []
                                                if c.get("status") == "False" and c.get("reason")), None)
        late = time.monotonic() - self._started > self.settings.start_timeout_s
        if not self._running.is_set() and (reason in FATAL_WAITING or late):
            self._errors.append(f"pod {self.pod} did not start within {self.settings.start_timeout_s:.0f}s: "
                                f"{reason or status.get('phase', 'Pending')} {waiting.get('message', '')}".strip())
            return START_FAILED
        return None

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            code = self.poll()
            if code is not None:
                return code
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"pod {self.pod} of {self.agent_id} still running after {timeout}s")
            time.sleep(0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic())))

    def stop(self, grace_s: float = 10.0) -> int:
        self.poll()
        if self._finisher is None and self.settings.results == "copy":
            # Signal the agent only (its init, sandbox.k8s.AGENT_INIT, forwards SIGTERM and turns SIGQUIT into
            # SIGKILL): the collect container must outlive it for the results to come back.
            for sig, wait_s in (("SIGTERM", grace_s), ("SIGQUIT", 10.0)):
                try:
                    self.kube.run("exec", self.pod, "-c", "agent", "--", "python", "-I", "-c",
                                  f"import os, signal; os.kill(1, signal.{sig})", check=False)
                except KubectlError as exc:
                    self._errors.append(f"could not signal the agent in {self.pod}: {exc}")
                deadline = time.monotonic() + wait_s + 2 * POLL_S
                while self._finisher is None and time.monotonic() < deadline:
                    self.poll()
                    time.sleep(0.5)
                if self._finisher is not None:
                    break
        with self._lock:
            finisher = self._finisher
        if finisher is None:
            try:
                self.kube.delete("pod", self.pod, grace_s=grace_s, wait=True)
            except KubectlError as exc:
                self._errors.append(f"could not delete pod {self.pod}: {exc}")
            with self._lock:
                if self._finisher is None:
                    self._finisher = threading.Thread(target=self._finish, args=(-int(signal.SIGTERM),), daemon=True)
                    self._finisher.start()
                finisher = self._finisher
        finisher.join()
        return self._code  # type: ignore[return-value]

    # ---- the end of a session: results back, leak scan, pod and Secret deleted (once, on the finisher thread)
    def _finish(self, code: int) -> None:
        try:
            self._ended.set()  # a reader still waiting for a start that never came returns now
            if self._reading.is_set():
                self._logs_done.wait(timeout=30)  # the log stream drains before the pod that holds it goes
            if self._running.is_set():
                self.results = self._collect() if self.settings.results == "copy" else Collected(shared=True)
                try:
                    self.results.scan = scan_results(self.spec, self._fingerprint())
                except Exception as exc:  # whatever the agent's tree did to the scan, the Secret still goes
                    log.error("k8s: leak scan of %s failed", self.pod, exc_info=exc)
                    self._errors.append(f"leak scan over the workspace failed: {printable(str(exc))}")
                found = bool(self.results.scan and self.results.scan["findings"])
                (log.warning if found or self.results.scan is None else log.info)(
                    "results of %s: %s", self.pod, self.results.summary() + ("" if self.results.scan else
                                                                             "; NO LEAK SCAN"))
            for kind, name in (("pod", self.pod), ("secret", self.secret)):
                try:
                    self.kube.delete(kind, name, grace_s=0)
                except KubectlError as exc:
                    self._errors.append(f"could not delete {kind} {name}: {exc}")
        finally:
            self._code = code


    def _collect(self) -> Collected:
        """The workspace as a tar stream from the collect container, extracted beneath the host workspace."""
        with tempfile.TemporaryFile() as errors:
            proc = self.kube.popen("exec", self.pod, "-c", COLLECT_CONTAINER, "--", *COLLECT_TAR, stderr=errors)
            assert proc.stdout is not None
            watchdog = threading.Timer(self.settings.collect_timeout_s, proc.kill)
            watchdog.start()
            try:
                collected = extract_beneath(proc.stdout, self.spec.workspace)
            except (ResultsRefused, OSError) as exc:
                proc.kill()
                self._errors.append(f"results of {self.pod} refused: {exc}")
                collected = Collected()
            finally:
                watchdog.cancel()
                proc.stdout.close()
                proc.wait()
            if proc.returncode != 0:
                errors.seek(0)
                self._errors.append(f"collecting {self.pod}: {last_line(errors.read()[-4000:])}")
        return collected


def _stamp(raw: bytes) -> tuple[str, str]:
    """An RFC 3339 timestamp as (seconds, nanoseconds) strings that compare in time order (the kubelet trims
    trailing zeros of the fraction)."""
    text = raw.decode(errors="replace").rstrip("Z")
    whole, _, fraction = text.partition(".")
    return whole, fraction.ljust(9, "0")


@register("k8s")
class K8sBackend(Backend):
    remote = True
    """Agents run in the cluster: they reach the servers through the trusted host's TLS proxy, not its loopback."""

    def __init__(self, settings: K8sSettings | None = None) -> None:
        self.settings = settings or K8sSettings.from_env()
        self.kube = Kubectl(self.settings)
        self.deadline: float | None = None
        """Unix time after which no pod of this backend should live (a launch's end): the pods' active deadline
        is cut to it, plus a margin, so the cluster ends them even if the launching host is gone."""
        self._fp: Any = None
        self._fp_loaded = False

    @classmethod
    def from_target(cls, target: str) -> K8sBackend:
        return cls(K8sSettings.from_env().with_target(target))

    def available(self) -> str | None:
        return self.kube.available()

    def location(self, spec: SandboxSpec) -> str:
        """What the dashboard shows: k8s://CONTEXT/NAMESPACE/POD."""
        return f"k8s://{self.settings.context or '(current)'}/{self.settings.namespace}/{pod_name(spec)}"

    def fingerprint(self) -> Any:
        if not self._fp_loaded:
            self._fp_loaded = True
            try:
                self._fp = operator_fingerprint()
            except (OSError, ValueError) as exc:
                log.warning("k8s: leak scans run without the label fingerprint: %s", exc)
        return self._fp

    def documents(self, spec: SandboxSpec, stdin: bytes | None = None) -> list[dict[str, Any]]:
        """Exactly what `start` submits (the tests check these against the shared policy)."""
        s = self.settings
        active = s.active_deadline_s
        if self.deadline is not None:
            active = max(60, min(active, int(self.deadline - time.time()) + 600))
        return documents(spec, image=s.image, namespace=s.namespace, allowed_cidrs=s.allow_cidrs, stdin=stdin,
                         workspaces_claim=s.workspaces_claim, public_claim=s.public_claim, gpus=s.gpus, proxy=s.proxy,
                         collect=s.results == "copy", active_deadline_s=active)

    def start(self, spec: SandboxSpec, *, stdin: bytes | None = None) -> PodHandle:
        if spec.egress:
            log.warning("k8s backend: egress %s (host loopback) is not reachable from a pod; agents reach the "
                        "trusted host through W2S_K8S_ALLOW_CIDRS / W2S_K8S_PROXY", spec.egress)
        # The host's copy of the workspace: where results land (copy) or the shared claim's mount (shared).
        prepare_workspace(spec.workspace, owner=(AGENT_UID, AGENT_UID))
        check_policy([spec.workspace])
        namespace, *docs = self.documents(spec, stdin)
        try:
            missing = self.kube.get("namespace", self.settings.namespace) is None
        except KubectlError as exc:  # a namespaced role may not read namespaces: then the operator made it
            log.info("k8s: not checking namespace %s: %s", self.settings.namespace, exc)
            missing = False
        if missing:
            self.kube.apply([namespace])  # labelled for restricted Pod Security; an existing one is left as it is
        for claim in (self.settings.workspaces_claim, self.settings.public_claim):
            if self.kube.get("persistentvolumeclaim", claim) is None:
                raise KubectlError(f"claim {claim!r} does not exist in namespace {self.settings.namespace!r}: create "
                                   "it on the shared storage first (docs/scale-out.md, Agents on Kubernetes)")
        # A leftover of a crashed session holds the name; pods are immutable, so it goes before the new one.
        self.kube.delete("pod", pod_name(spec), grace_s=0, wait=True)
        self.kube.apply(docs)
        log.info("k8s: started %s", json.dumps({"pod": pod_name(spec), "where": self.location(spec)}))
        return PodHandle(self, spec)

