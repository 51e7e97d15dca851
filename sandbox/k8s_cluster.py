"""Which Kubernetes cluster the `k8s` backend uses, and `kubectl` as its one client (operator side only).

Settings come from the environment (`W2S_K8S_*`), then the `[k8s]` table of the `W2S_CONFIG` file, then defaults;
`--sandbox k8s://CONTEXT/NAMESPACE` overrides the context and namespace:

    W2S_K8S_CONTEXT        kubeconfig context (default: the kubeconfig's current one)
    W2S_K8S_KUBECONFIG     kubeconfig file (default: kubectl's own rules, KUBECONFIG or ~/.kube/config)
    W2S_K8S_NAMESPACE      namespace of the agents' pods (default w2s; created with restricted Pod Security)
    W2S_K8S_IMAGE          the agent image (default W2S_AGENT_IMAGE, else w2s-lab-agent:latest)
    W2S_K8S_WORKSPACES_CLAIM / W2S_K8S_PUBLIC_CLAIM   the claims (default w2s-workspaces / w2s-public)
    W2S_K8S_ALLOW_CIDRS    comma-separated CIDRs agents may reach on 443 (the trusted host's TLS proxy)
    W2S_K8S_PROXY          egress proxy URL set as HTTPS_PROXY in the pod (model API, the trusted host)
    W2S_K8S_GPUS           GPUs per agent pod (default: one when the spec asks for a GPU)
    W2S_K8S_RESULTS        shared (the host mounts the workspaces claim) | copy (tar stream back, see k8s_results)
    W2S_K8S_START_TIMEOUT_S / W2S_K8S_ACTIVE_DEADLINE_S / W2S_K8S_COLLECT_TIMEOUT_S / W2S_K8S_KUBECTL

kubectl is used (not a Python client) because it already speaks every cluster's auth (exec plugins, OIDC, cloud
CLIs), reads the operator's kubeconfig as the operator expects, and streams `exec` binary-safe (what `kubectl cp`
relies on). Nothing here runs at import time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

INSTALL_HINT = ("install kubectl (https://kubernetes.io/docs/tasks/tools/, or your cloud's CLI) and give it a "
                "kubeconfig for your cluster (KUBECONFIG, W2S_K8S_KUBECONFIG, W2S_K8S_CONTEXT)")


class K8sSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    kubectl: str = "kubectl"
    kubeconfig: Path | None = None
    context: str | None = None
    namespace: str = Field(default="w2s", pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    image: str = Field(default_factory=lambda: os.environ.get("W2S_AGENT_IMAGE", "w2s-lab-agent:latest"))
    workspaces_claim: str = "w2s-workspaces"
    public_claim: str = "w2s-public"
    allow_cidrs: list[str] = Field(default_factory=list)
    proxy: str | None = None
    gpus: int | None = Field(default=None, ge=0)
    results: Literal["shared", "copy"] = "shared"
    start_timeout_s: float = Field(default=900.0, gt=0)
    """A pod not running by then (unschedulable, image not pulled) is deleted and the session fails with why."""
    active_deadline_s: int = Field(default=7 * 86400, gt=0)
    """The cluster kills an agent pod after this long even if the host that started it died."""
    request_timeout_s: float = Field(default=30.0, gt=0)
    collect_timeout_s: float = Field(default=3600.0, gt=0)
    """How long copying a workspace back may take before it is cut (what came until then stays, as data)."""

    @field_validator("allow_cidrs", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value

    @classmethod
    def from_env(cls, **overrides: Any) -> K8sSettings:
        values: dict[str, Any] = {}
        config = os.environ.get("W2S_CONFIG")
        if config and Path(config).expanduser().is_file():
            table = tomllib.loads(Path(config).expanduser().read_text()).get("k8s", {})
            values |= {k: v for k, v in table.items() if k in cls.model_fields} if isinstance(table, dict) else {}
        for name in cls.model_fields:
            env = os.environ.get(f"W2S_K8S_{name.upper()}")
            if env not in (None, ""):
                values[name] = env
        values |= {k: v for k, v in overrides.items() if v is not None}
        return cls(**values)

    def with_target(self, target: str) -> K8sSettings:
        """`k8s://CONTEXT/NAMESPACE`, `k8s://CONTEXT`, `k8s:///NAMESPACE`."""
        rest = target.removeprefix("k8s://")
        context, _, namespace = rest.partition("/")
        if "/" in namespace:
            raise ValueError(f"sandbox target {target!r}: use k8s://CONTEXT/NAMESPACE")
        return self.model_copy(update={k: v for k, v in (("context", context), ("namespace", namespace)) if v})


class KubectlError(RuntimeError):
    """kubectl failed; the message carries its own last error line."""


@dataclass(frozen=True)
class Kubectl:
    settings: K8sSettings

    def binary(self) -> str | None:
        return shutil.which(self.settings.kubectl)

    def argv(self, *args: str, namespaced: bool = True) -> list[str]:
        s = self.settings
        argv = [self.binary() or s.kubectl]
        if s.kubeconfig:
            argv += ["--kubeconfig", str(s.kubeconfig)]
        if s.context:
            argv += ["--context", s.context]
        if namespaced:
            argv += ["--namespace", s.namespace]
        return [*argv, *args]

    def run(self, *args: str, input: bytes | None = None, timeout: float | None = None, check: bool = True,
            namespaced: bool = True) -> subprocess.CompletedProcess[bytes]:
        try:
            done = subprocess.run(self.argv(*args, namespaced=namespaced), input=input, capture_output=True,
                                  timeout=timeout or self.settings.request_timeout_s + 10, check=False)
        except FileNotFoundError:
            raise KubectlError(f"kubectl not found ({self.settings.kubectl!r}): {INSTALL_HINT}") from None
        except subprocess.TimeoutExpired:
            raise KubectlError(f"kubectl {args[0] if args else ''} did not answer within "
                               f"{timeout or self.settings.request_timeout_s + 10:.0f}s") from None
        if check and done.returncode != 0:
            raise KubectlError(f"kubectl {' '.join(args[:2])} failed: {last_line(done.stderr)}")
        return done

    def popen(self, *args: str, stderr: Any = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
        """kubectl streaming to our stdout pipe (logs, exec); `stderr` a file (a pipe nobody reads could fill)."""
        if self.binary() is None:
            raise KubectlError(f"kubectl not found ({self.settings.kubectl!r}): {INSTALL_HINT}")
        return subprocess.Popen(self.argv(*args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr)

    def available(self) -> str | None:
        """None when kubectl reaches the cluster and may create pods in the namespace, else the reason."""
        if self.binary() is None:
            return f"kubectl not found ({self.settings.kubectl!r} is not on PATH): {INSTALL_HINT}"
        where = f"context {self.settings.context!r}" if self.settings.context else "the kubeconfig's current context"
        try:
            done = self.run("auth", "can-i", "create", "pods", f"--request-timeout={int(self.settings.request_timeout_s)}s",
                            check=False)
        except KubectlError as exc:
            return f"no Kubernetes cluster answers ({where}): {exc}"
        answer = done.stdout.decode(errors="replace").strip()
        if answer == "yes":
            return None
        if answer.startswith("no"):
            return f"the user of {where} may not create pods in namespace {self.settings.namespace!r}"
        return f"no Kubernetes cluster answers ({where}): {last_line(done.stderr)}"

    def apply(self, documents: list[dict[str, Any]]) -> None:
        body = json.dumps({"apiVersion": "v1", "kind": "List", "items": documents}).encode()
        self.run("apply", "-f", "-", "-o", "name", input=body, timeout=self.settings.request_timeout_s * 2)

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        done = self.run("get", kind, name, "-o", "json", "--ignore-not-found",
                        f"--request-timeout={int(self.settings.request_timeout_s)}s")
        text = done.stdout.strip()
        return json.loads(text) if text else None

    def delete(self, kind: str, name: str, *, grace_s: float | None = None, wait: bool = False) -> None:
        args = ["delete", kind, name, "--ignore-not-found", f"--wait={'true' if wait else 'false'}"]
        if grace_s is not None:
            args.append(f"--grace-period={max(0, int(grace_s))}")
            if grace_s <= 0:
                args.append("--force")
        self.run(*args, timeout=self.settings.request_timeout_s + (120 if wait else 10))


def last_line(stderr: bytes) -> str:
    """The last non-blank line, terminal escapes written out: a collect container's stderr names the agent's files,
    and this line ends up in the operator's terminal."""
    lines = [line for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    line = lines[-1] if lines else "no error message"
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in line[:400])
