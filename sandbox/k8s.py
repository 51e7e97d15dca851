"""Kubernetes manifests for agents on GPU nodes: one Pod, one Secret and the namespace's NetworkPolicy per launch.

    python -m sandbox.k8s --agent agent-01 --server grader=https://w2s.example.org/grader/mcp ... > agent-01.yaml
    kubectl apply -f agent-01.yaml

The `k8s` sandbox backend (sandbox/backends/k8s.py) submits exactly these documents itself (`documents`), with
two optional parts: the agent's stdin as a second key of its Secret, and a `collect` container that holds the
workspace read-only after the agent exits so the host can copy its results back as a tar stream.

The same policy as compose.yaml and the docker backend: non-root (uid 1000 of the agent image), read-only root
filesystem with an in-memory /tmp, every capability dropped, no privilege escalation, no host namespaces, no
service-account token, no labels/state/tokens volume (only the agent's own workspace, read-write through its
subPath, and the public tree read-only), the token in a Secret mounted as a file (never an environment variable),
GPUs through `resources.limits["nvidia.com/gpu"]`. The NetworkPolicy lets agent pods reach only DNS, the pods
labelled as w2s servers or egress proxy, and the CIDRs the operator names (the trusted host's TLS reverse proxy);
nothing reaches an agent pod. Enforcing it needs a CNI that implements NetworkPolicy (Calico, Cilium).

Pure functions over `SandboxSpec`: no cluster is contacted, nothing here imports a Kubernetes client.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from sandbox._spec import INSIDE_ARTIFACTS, INSIDE_DATA, INSIDE_MODELS, INSIDE_WORKSPACE, SandboxSpec

AGENT_UID = 1000
SECRETS_DIR = "/run/w2s"
SECRETS_INSIDE = f"{SECRETS_DIR}/secrets.json"
AGENT_LABELS = {"app.kubernetes.io/part-of": "w2s-lab", "w2s.role": "agent"}
SERVER_ROLES = ("server", "egress")
"""Pods with `w2s.role` in these are what agents may reach in the cluster (the MCP servers, the egress proxy)."""
STDIN_INSIDE = f"{SECRETS_DIR}/stdin"
MAX_STDIN = 512 * 1024
"""A Secret holds at most 1 MiB; the agent's stdin (a session config) is far smaller."""
AGENT_INIT = (
    "import os, signal, sys\n"
    "stdin, argv = sys.argv[1], sys.argv[2:]\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    try:\n"
    "        if stdin != '-':\n"
    "            fd = os.open(stdin, os.O_RDONLY)\n"
    "            os.dup2(fd, 0)\n"
    "            os.close(fd)\n"
    "        os.execvp(argv[0], argv)\n"
    "    finally:\n"
    "        os._exit(127)\n"
    "signal.signal(signal.SIGTERM, lambda *_: os.kill(pid, signal.SIGTERM))\n"
    "signal.signal(signal.SIGINT, lambda *_: os.kill(pid, signal.SIGINT))\n"
    "signal.signal(signal.SIGQUIT, lambda *_: os.kill(pid, signal.SIGKILL))\n"
    "code = 1\n"
    "while True:\n"
    "    try:\n"
    "        done, status = os.waitpid(-1, 0)\n"
    "    except ChildProcessError:\n"
    "        break\n"
    "    if done == pid:\n"
    "        code = os.waitstatus_to_exitcode(status)\n"
    "        break\n"
    "sys.exit(code if code >= 0 else 128 - code)\n")
"""PID 1 of the agent container (`python -I -c AGENT_INIT STDIN|- COMMAND...`). PID 1 of a PID namespace ignores
every signal it has no handler for, so an agent program run as PID 1 would never see SIGTERM (from the kubelet on
delete, or from the host's `stop`). This init runs the command as its child (its stdin the Secret's `stdin` file,
or the pod's), forwards SIGTERM and SIGINT, turns SIGQUIT into SIGKILL of the child (the host's "now"), reaps
orphans, and exits with the child's status (128 + signal when killed)."""
COLLECT_CONTAINER = "collect"
# Holds the pod open after the agent exits so the host can `kubectl exec` a tar of the workspace (read-only here).
_COLLECT_HOLD = "import time\nwhile True: time.sleep(3600)"
COLLECT_TAR = ["python", "-I", "-c", (
    "import os, sys, tarfile\n"
    f"root = '{INSIDE_WORKSPACE}'\n"
    "with tarfile.open(fileobj=sys.stdout.buffer, mode='w|', format=tarfile.PAX_FORMAT) as tar:\n"
    "    for top, dirs, files in os.walk(root):\n"
    "        for name in sorted(dirs) + sorted(files):\n"
    "            path = os.path.join(top, name)\n"
    "            try:\n"
    "                info = tar.gettarinfo(path, os.path.relpath(path, root))\n"
    "                if info is None:\n"
    "                    continue\n"
    "                if info.isreg():\n"
    "                    with open(path, 'rb') as source:\n"
    "                        tar.addfile(info, source)\n"
    "                else:\n"
    "                    tar.addfile(info)\n"
    "            except OSError as exc:\n"
    "                print(f'skipped {path}: {exc.strerror}', file=sys.stderr)\n")]
"""What the host runs in the collect container: the workspace as an uncompressed tar on stdout (links stay links,
never followed; the host never creates them; a file the agent made unreadable is skipped, not fatal)."""
_SECURITY = {"runAsNonRoot": True, "runAsUser": AGENT_UID, "runAsGroup": AGENT_UID, "readOnlyRootFilesystem": True,
             "allowPrivilegeEscalation": False, "privileged": False, "capabilities": {"drop": ["ALL"]},
             "seccompProfile": {"type": "RuntimeDefault"}}


_PLAIN_KEY = re.compile(r"[a-z0-9]([a-z0-9-]{0,51}[a-z0-9])?\Z")
"""An agent id that is already a lowercase DNS label and fits after `w2s-agent-` in 63 characters."""
_KEY_PREFIX = 41
"""10 + 41 + 2 + 10 = 63: `w2s-agent-`, the cleaned prefix, `--`, the hash."""


def agent_key(agent_id: str) -> str:
    """The agent's name in every Kubernetes object name and label value: one-to-one, so starting one agent never
    deletes another's pod or Secret (cleaning ids up alone sent `a_b`, `a.b` and `A-b` to one pod, and ids sharing
    their first 53 characters too).

    An id that is already a lowercase DNS label with no `--` and fits is kept as it is; any other becomes a cleaned
    prefix, `--` and 10 hex of the sha256 of the exact id. Kept ids never hold `--` and hashed keys always end in
    `--<hash>`, so the two kinds never meet. At most 53 characters, starts and ends alphanumeric: a valid label
    value too (an id of 64 characters, or one ending in `_`, is not)."""
    if _PLAIN_KEY.match(agent_id) and "--" not in agent_id:
        return agent_id
    prefix = re.sub(r"[^a-z0-9-]", "-", agent_id.lower())[:_KEY_PREFIX]
    return f"{prefix}--{hashlib.sha256(agent_id.encode()).hexdigest()[:10]}"


def agent_metadata(spec: SandboxSpec) -> dict[str, Any]:
    """Labels (the key, selectable) and annotations (the exact id, for people) of an agent's objects."""
    return {"labels": {**AGENT_LABELS, "w2s.agent": agent_key(spec.agent_id)},
            "annotations": {"w2s.agent": spec.agent_id}}


def pod_name(spec: SandboxSpec) -> str:
    return f"w2s-agent-{agent_key(spec.agent_id)}"


def secret_name(spec: SandboxSpec) -> str:
    return f"{pod_name(spec)}-secrets"


def namespace_manifest(namespace: str = "w2s") -> dict[str, Any]:
    """The agents' namespace, with Pod Security Admission enforcing the `restricted` profile: the cluster itself
    refuses a root, privileged or capability-keeping pod there, whatever submits it."""
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": namespace, "labels": {"app.kubernetes.io/part-of": "w2s-lab",
                                                       "pod-security.kubernetes.io/enforce": "restricted",
                                                       "pod-security.kubernetes.io/enforce-version": "latest"}}}


def token_secret(spec: SandboxSpec, namespace: str = "w2s", stdin: bytes | None = None) -> dict[str, Any]:
    """The agent's token (and API key, if any) as the JSON file `sandbox._envfile` loads inside; `stdin`, when
    given, as a second file the command reads as its standard input."""
    values = {k: v for k, v in (("W2S_TOKEN", spec.token), ("ANTHROPIC_API_KEY", spec.api_key)) if v}
    secret: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": secret_name(spec), "namespace": namespace, **agent_metadata(spec)},
        "stringData": {"secrets.json": json.dumps(values)}}
    if stdin is not None:
        if len(stdin) > MAX_STDIN:
            raise ValueError(f"stdin of {len(stdin)} bytes is over the {MAX_STDIN} a pod's Secret can carry")
        secret["data"] = {"stdin": base64.b64encode(stdin).decode()}
    return secret


def agent_pod(spec: SandboxSpec, *, image: str, namespace: str = "w2s", workspaces_claim: str = "w2s-workspaces",
              public_claim: str = "w2s-public", gpus: int | None = None, proxy: str | None = None,
              stdin: bool = False, collect: bool = False, active_deadline_s: int | None = None) -> dict[str, Any]:
    """The Pod of one agent. `gpus`: how many (default: one when `spec.gpu`, else none); `proxy`: the egress
    proxy URL (model API and the trusted host's endpoint), set as HTTPS_PROXY; `stdin`: the command reads the
    Secret's stdin file; `collect`: add the read-only collect container; `active_deadline_s`: the cluster kills
    the pod after this long even if the host that started it is gone."""
    env = spec.environment(inside_venv=None)
    for secret in ("W2S_TOKEN", "ANTHROPIC_API_KEY"):
        env.pop(secret, None)
    env |= {"PATH": "/opt/venv/bin:/usr/local/bin:/usr/bin:/bin", "PYTHONPATH": ""}
    if proxy:
        env |= {"HTTPS_PROXY": proxy, "HTTP_PROXY": proxy, "NO_PROXY": "localhost,127.0.0.1"}
    count = gpus if gpus is not None else (len(spec.gpu) if isinstance(spec.gpu, list) else int(bool(spec.gpu)))
    env.pop("CUDA_VISIBLE_DEVICES", None)  # the device plugin picks the devices
    limits: dict[str, str] = {}
    if spec.limits.memory_mb:
        limits["memory"] = f"{spec.limits.memory_mb}Mi"
    if spec.limits.cpus:
        limits["cpu"] = str(spec.limits.cpus)
    if count:
        limits["nvidia.com/gpu"] = str(count)
    public = {INSIDE_DATA: "data", INSIDE_MODELS: "models", INSIDE_ARTIFACTS: "artifacts"}
    mounts = [{"name": "workspace", "mountPath": str(INSIDE_WORKSPACE), "subPath": spec.agent_id}]
    mounts += [{"name": "public", "mountPath": str(inside), "subPath": sub, "readOnly": True}
               for inside, sub in public.items()]
    mounts += [{"name": "tmp", "mountPath": "/tmp"},
               {"name": "secrets", "mountPath": SECRETS_DIR, "readOnly": True}]
    command = ["python", "-I", "-c", AGENT_INIT, STDIN_INSIDE if stdin else "-", *spec.command]
    container = {
        "name": "agent", "image": image, "imagePullPolicy": "IfNotPresent",
        "command": ["python", "-I", "-m", "sandbox._envfile", SECRETS_INSIDE, "--", *command],
        "workingDir": str(spec.inside_cwd()),
        "env": [{"name": k, "value": v} for k, v in sorted(env.items())],
        "resources": {"limits": limits, "requests": {k: v for k, v in limits.items() if k != "nvidia.com/gpu"}},
        "volumeMounts": mounts,
        "securityContext": dict(_SECURITY),
    }
    containers = [container]
    if collect:
        containers.append({
            "name": COLLECT_CONTAINER, "image": image, "imagePullPolicy": "IfNotPresent",
            "command": ["python", "-I", "-c", _COLLECT_HOLD], "workingDir": "/",
            "env": [{"name": "PYTHONDONTWRITEBYTECODE", "value": "1"}],
            "resources": {"limits": {"cpu": "200m", "memory": "256Mi"}, "requests": {"cpu": "50m", "memory": "64Mi"}},
            "volumeMounts": [{"name": "workspace", "mountPath": str(INSIDE_WORKSPACE), "subPath": spec.agent_id,
                              "readOnly": True}],
            "securityContext": dict(_SECURITY)})
    pod = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": pod_name(spec), "namespace": namespace, **agent_metadata(spec)},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,  # no credentials to the cluster's API inside
            "enableServiceLinks": False,
            "hostNetwork": False, "hostPID": False, "hostIPC": False,
            "securityContext": {"runAsNonRoot": True, "runAsUser": AGENT_UID, "runAsGroup": AGENT_UID,
                                "fsGroup": AGENT_UID, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": containers,
            "volumes": [
                {"name": "workspace", "persistentVolumeClaim": {"claimName": workspaces_claim}},
                {"name": "public", "persistentVolumeClaim": {"claimName": public_claim, "readOnly": True}},
                {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": f"{spec.limits.tmp_mb}Mi"}},
                {"name": "secrets", "secret": {"secretName": secret_name(spec), "defaultMode": 0o440}},
            ],
        },
    }
    if active_deadline_s:
        pod["spec"]["activeDeadlineSeconds"] = int(active_deadline_s)
    return pod


def network_policy(namespace: str = "w2s", allowed_cidrs: list[str] | None = None,
                   allowed_ports: tuple[int, ...] = (443,)) -> dict[str, Any]:
    """Agent pods: no ingress; egress to DNS, w2s server/egress pods and `allowed_cidrs` on `allowed_ports`."""
    egress: list[dict[str, Any]] = [
        {"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
         "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
        {"to": [{"podSelector": {"matchExpressions": [{"key": "w2s.role", "operator": "In",
                                                        "values": list(SERVER_ROLES)}]}}]},
    ]
    if allowed_cidrs:
        egress.append({"to": [{"ipBlock": {"cidr": cidr}} for cidr in allowed_cidrs],
                       "ports": [{"protocol": "TCP", "port": p} for p in allowed_ports]})
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "w2s-agents", "namespace": namespace, "labels": {"app.kubernetes.io/part-of":
                                                                                  "w2s-lab"}},
            "spec": {"podSelector": {"matchLabels": {"w2s.role": "agent"}}, "policyTypes": ["Ingress", "Egress"],
                     "ingress": [], "egress": egress}}


def manifests(spec: SandboxSpec, *, image: str, namespace: str = "w2s", allowed_cidrs: list[str] | None = None,
              stdin: bytes | None = None, **pod: Any) -> list[dict[str, Any]]:
    """NetworkPolicy, Secret and Pod of one agent, in the order `kubectl apply` needs them."""
    return [network_policy(namespace, allowed_cidrs), token_secret(spec, namespace, stdin),
            agent_pod(spec, image=image, namespace=namespace, stdin=stdin is not None, **pod)]


def documents(spec: SandboxSpec, *, image: str, namespace: str = "w2s", allowed_cidrs: list[str] | None = None,
              stdin: bytes | None = None, **pod: Any) -> list[dict[str, Any]]:
    """What the `k8s` backend submits for one agent session: the namespace (restricted Pod Security), then
    `manifests`."""
    return [namespace_manifest(namespace), *manifests(spec, image=image, namespace=namespace,
                                                      allowed_cidrs=allowed_cidrs, stdin=stdin, **pod)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.k8s", description=__doc__.split("\n\n")[0])
    parser.add_argument("--agent", required=True)
    parser.add_argument("--image", default="w2s-lab-agent:latest")
    parser.add_argument("--namespace", default="w2s")
    parser.add_argument("--server", action="append", default=[], metavar="NAME=URL")
    parser.add_argument("--allow-cidr", action="append", default=[], help="the trusted host's proxy, e.g. 10.0.0.5/32")
    parser.add_argument("--proxy", default=None, help="egress proxy URL set as HTTPS_PROXY")
    parser.add_argument("--gpus", type=int, default=1)
    parser.add_argument("--token-file", type=Path, help="file holding the agent's token (never on the command line)")
    parser.add_argument("command", nargs="+")
    args = parser.parse_args(argv)
    servers = dict(s.split("=", 1) for s in args.server)
    token = args.token_file.read_text().strip() if args.token_file else None
    spec = SandboxSpec(agent_id=args.agent, workspace=Path("/nonexistent"), command=args.command,
                       server_urls=servers, token=token, gpu=args.gpus > 0)
    yaml.safe_dump_all(manifests(spec, image=args.image, namespace=args.namespace, allowed_cidrs=args.allow_cidr,
                                 gpus=args.gpus, proxy=args.proxy), sys.stdout, sort_keys=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
