"""Kubernetes manifests of an agent against the shared policy (tests/sandbox/policy.py), checked statically: no
cluster runs on these machines. Where `kubectl` reaches a cluster, the last test has it validate them server-side."""

from __future__ import annotations

import base64
import copy
import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

from sandbox import SandboxSpec
from sandbox.k8s import (
    AGENT_INIT,
    COLLECT_CONTAINER,
    COLLECT_TAR,
    SECRETS_INSIDE,
    STDIN_INSIDE,
    agent_key,
    agent_pod,
    documents,
    main,
    network_policy,
    pod_name,
    secret_name,
    token_secret,
)
from tests.sandbox.policy import AGENT_SECRETS, check_agent, check_hardening, from_pod

TOKEN = "w2s_k8sTok3nXyzXyzXyzXyzXyz"


@pytest.fixture
def spec(fake_home) -> SandboxSpec:
    p = fake_home.paths
    return SandboxSpec(agent_id="agent_07", workspace=p.workspaces_dir / "agent_07", token=TOKEN, api_key="sk-ant-k",
                       server_urls={"grader": "https://w2s.example.org/grader/mcp"}, gpu=True,
                       extra_env={"ANTHROPIC_BASE_URL": "https://w2s.example.org/model/agent_07"},
                       command=["python", "-m", "orchestrator.agents.evolve", "--dataset", "toy"])


def test_pod_obeys_the_agent_policy(spec: SandboxSpec, fake_home) -> None:
    pod = agent_pod(spec, image="registry.example.org/w2s-lab-agent:1")
    view = from_pod(pod)
    check_agent(view, fake_home.paths.private_dirs())
    assert view.uid == 1000 and view.gpus == 1
    assert pod["spec"]["automountServiceAccountToken"] is False and pod["spec"]["restartPolicy"] == "Never"
    assert pod["metadata"]["name"] == f"w2s-agent-{agent_key('agent_07')}" and pod["metadata"]["labels"]["w2s.role"] == "agent"
    assert pod["metadata"]["annotations"]["w2s.agent"] == "agent_07"  # the exact id, for people
    (container,) = pod["spec"]["containers"]
    assert container["command"][:5] == ["python", "-I", "-m", "sandbox._envfile", SECRETS_INSIDE]
    assert container["command"][-len(spec.command):] == spec.command
    workspace = next(m for m in container["volumeMounts"] if m["name"] == "workspace")
    assert workspace["subPath"] == "agent_07"  # its own folder of the workspaces claim, never the others'
    assert TOKEN not in json.dumps(pod) and "sk-ant-k" not in json.dumps(pod)


def test_gpus_as_resource_limits(spec: SandboxSpec) -> None:
    limits = agent_pod(spec, image="i", gpus=2)["spec"]["containers"][0]["resources"]["limits"]
    assert limits["nvidia.com/gpu"] == "2" and limits["memory"].endswith("Mi")
    cpu_only = agent_pod(spec.model_copy(update={"gpu": False}), image="i")
    assert "nvidia.com/gpu" not in cpu_only["spec"]["containers"][0]["resources"]["limits"]


def test_token_is_a_secret_file(spec: SandboxSpec) -> None:
    secret = token_secret(spec)
    assert json.loads(secret["stringData"]["secrets.json"]) == {"W2S_TOKEN": TOKEN, "ANTHROPIC_API_KEY": "sk-ant-k"}
    pod = agent_pod(spec, image="i")
    volume = next(v for v in pod["spec"]["volumes"] if v["name"] == "secrets")
    assert volume["secret"]["secretName"] == secret["metadata"]["name"]
    assert volume["secret"]["defaultMode"] == 0o440  # readable by the pod's fsGroup, nobody else


DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?")


def test_object_names_are_one_to_one_with_agent_ids(tmp_path: Path) -> None:
    """Starting an agent deletes the pod of its name first: two ids that shared a name killed each other's pod."""
    ids = ["a_b", "a.b", "A-b", "a-b", "a--b", "a-b--0123456789", "A" * 64, "A" * 63 + "B", "x" * 53, "x" * 54,
           "x" * 53 + "_", "evolve3", "agent-07", "agent_07", "a", "A", "9"]
    specs = [SandboxSpec(agent_id=i, workspace=tmp_path, command=["true"], token=TOKEN) for i in ids]
    pods, secrets = [pod_name(s) for s in specs], [secret_name(s) for s in specs]
    assert len(set(pods)) == len(ids) and len(set(secrets)) == len(ids)
    assert pods[ids.index("a-b")] == "w2s-agent-a-b" and pods[ids.index("evolve3")] == "w2s-agent-evolve3"
    for spec, pod in zip(specs, pods, strict=True):
        assert DNS_LABEL.fullmatch(pod), pod  # a pod's hostname is its name: one DNS label
        for document in (agent_pod(spec, image="i"), token_secret(spec)):
            assert LABEL_VALUE.fullmatch(document["metadata"]["labels"]["w2s.agent"]), spec.agent_id
            assert document["metadata"]["annotations"]["w2s.agent"] == spec.agent_id
    labels = {agent_pod(s, image="i")["metadata"]["labels"]["w2s.agent"] for s in specs}
    assert len(labels) == len(ids)  # a selector on the label finds one agent's objects


def test_network_policy_lets_agents_reach_servers_and_the_proxy_only() -> None:
    policy = network_policy(allowed_cidrs=["10.0.0.5/32"])
    spec = policy["spec"]
    assert spec["podSelector"] == {"matchLabels": {"w2s.role": "agent"}}
    assert spec["policyTypes"] == ["Ingress", "Egress"] and spec["ingress"] == []
    peers = [peer for rule in spec["egress"] for peer in rule["to"]]
    assert all("ipBlock" not in p or p["ipBlock"] == {"cidr": "10.0.0.5/32"} for p in peers)
    roles = [p["podSelector"]["matchExpressions"][0]["values"] for p in peers if "matchExpressions" in
             p.get("podSelector", {})]
    assert roles == [["server", "egress"]]
    cidr_rule = next(r for r in spec["egress"] if any("ipBlock" in p for p in r["to"]))
    assert cidr_rule["ports"] == [{"protocol": "TCP", "port": 443}]
    assert not any(p.get("ipBlock", {}).get("cidr") == "0.0.0.0/0" for p in peers)


def test_the_check_catches_each_breach(spec: SandboxSpec, fake_home) -> None:
    """The shared check is not vacuous: every breach of a good pod fails it."""
    good = agent_pod(spec, image="i")

    def breach(change) -> None:  # type: ignore[no-untyped-def]
        pod = copy.deepcopy(good)
        change(pod["spec"], pod["spec"]["containers"][0])
        with pytest.raises(AssertionError):
            check_agent(from_pod(pod), fake_home.paths.private_dirs())

    breach(lambda s, c: c["securityContext"].update(runAsUser=0, runAsNonRoot=False) or s["securityContext"].update(
        runAsUser=0, runAsNonRoot=False))
    breach(lambda s, c: c["securityContext"].update(readOnlyRootFilesystem=False))
    breach(lambda s, c: c["securityContext"].update(allowPrivilegeEscalation=True))
    breach(lambda s, c: c["securityContext"]["capabilities"].update(drop=[]))
    breach(lambda s, c: s.update(hostNetwork=True))
    breach(lambda s, c: c["env"].append({"name": "W2S_TOKEN", "value": TOKEN}))
    breach(lambda s, c: (s["volumes"].append({"name": "labels", "persistentVolumeClaim": {"claimName": "w2s-labels"}}),
                         c["volumeMounts"].append({"name": "labels", "mountPath": "/w2s/labels", "readOnly": True})))
    # the public tree is read-only twice (mount and claim); only dropping both is a breach
    breach(lambda s, c: (next(m for m in c["volumeMounts"] if m["mountPath"] == "/w2s/data").pop("readOnly"),
                         next(v for v in s["volumes"] if v["name"] == "public")["persistentVolumeClaim"].pop(
                             "readOnly")))


def test_command_line_prints_the_three_manifests(spec: SandboxSpec, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    assert main(["--agent", "agent-02", "--server", "grader=https://w2s.example.org/grader/mcp", "--allow-cidr",
                 "10.0.0.5/32", "--token-file", str(token_file), "--", "python", "-m", "x"]) == 0
    kinds = [doc["kind"] for doc in yaml.safe_load_all(capsys.readouterr().out)]
    assert kinds == ["NetworkPolicy", "Secret", "Pod"]


@pytest.mark.skipif(shutil.which("kubectl") is None,
                    reason="no Kubernetes cluster or kubectl on these machines: the manifests are checked statically "
                           "against the shared policy above; see docs/scale-out.md for what was not run")
def test_cluster_accepts_the_manifests(spec: SandboxSpec, tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    # what the k8s backend submits, with every part (stdin in the Secret, the collect container)
    docs = documents(spec, image="w2s-lab-agent:latest", allowed_cidrs=["10.0.0.5/32"], stdin=b"{}", collect=True,
                     active_deadline_s=3600)
    path.write_text(yaml.safe_dump_all(docs))
    done = subprocess.run(["kubectl", "apply", "--dry-run=server", "-f", str(path)], capture_output=True, text=True,
                          timeout=60, check=False)
    unreachable = ("connection refused", "Unable to connect", "failed to download openapi", "no configuration")
    if done.returncode != 0 and any(sign in done.stderr for sign in unreachable):
        pytest.skip("kubectl finds no Kubernetes cluster here; the manifests are checked statically against the shared "
                    f"policy above ({done.stderr.strip()[:120]})")
    assert done.returncode == 0, done.stderr


def check_collect(pod: dict, private_dirs: list[Path]) -> None:
    """The collect container: hardened and non-root like the agent, read-only root, the agent's own workspace
    read-only and nothing else (no secrets, no public tree, no other claim)."""
    (collect,) = [c for c in pod["spec"]["containers"] if c["name"] == COLLECT_CONTAINER]
    view = from_pod(pod, container=COLLECT_CONTAINER)
    check_hardening(view)
    assert view.uid == 1000 and view.read_only_root and view.gpus == 0
    assert [(m.source, m.target, m.read_only) for m in view.mounts] == [("w2s-workspaces", "/w2s/workspace", True)]
    assert collect["volumeMounts"][0]["subPath"] == pod["metadata"]["annotations"]["w2s.agent"]
    assert not AGENT_SECRETS & set(view.env)


def test_documents_with_stdin_and_collect_obey_the_policy(spec: SandboxSpec, fake_home) -> None:
    """What the k8s backend submits with every option on: the same agent check, plus the collect container's."""
    stdin = b'{"prompt": "begin-xq7"}'
    namespace, policy, secret, pod = documents(spec, image="i", allowed_cidrs=["10.0.0.5/32"], stdin=stdin,
                                               collect=True, active_deadline_s=3600)
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert policy["kind"] == "NetworkPolicy" and secret["kind"] == "Secret"
    check_agent(from_pod(pod), fake_home.paths.private_dirs())
    check_collect(pod, fake_home.paths.private_dirs())
    assert pod["spec"]["activeDeadlineSeconds"] == 3600
    assert base64.b64decode(secret["data"]["stdin"]) == stdin and "begin-xq7" not in json.dumps(pod)
    command = pod["spec"]["containers"][0]["command"]
    assert command[:5] == ["python", "-I", "-m", "sandbox._envfile", SECRETS_INSIDE]
    assert command[5:9] == ["--", "python", "-I", "-c"] and command[10] == STDIN_INSIDE
    assert command[-len(spec.command):] == spec.command


def test_stdin_feeder_and_collect_tar_run(tmp_path: Path) -> None:
    """The two inline programs the pod runs, executed here: stdin comes from the Secret's file; the collect tar
    is a stream of the workspace in which links stay links."""
    stdin_file = tmp_path / "stdin"
    stdin_file.write_bytes(b"hello from the secret\n")
    pod = agent_pod(SandboxSpec(agent_id="a", workspace=tmp_path, command=["cat"]), image="i", stdin=True)
    init = pod["spec"]["containers"][0]["command"][6:]
    assert init[:4] == ["python", "-I", "-c", AGENT_INIT] and init[4] == STDIN_INSIDE
    init[4] = str(stdin_file)
    done = subprocess.run([sys.executable, *init[1:]], capture_output=True, timeout=30, check=True)
    assert done.stdout == b"hello from the secret\n"
    workspace = tmp_path / "ws"
    (workspace / "runs").mkdir(parents=True)
    (workspace / "runs" / "out.json").write_text("{}")
    (workspace / "link").symlink_to("/etc/passwd")
    (workspace / "linked-dir").symlink_to(workspace / "runs")
    program = COLLECT_TAR[3].replace("/w2s/workspace", str(workspace))
    tar = subprocess.run([sys.executable, "-I", "-c", program], capture_output=True, timeout=30, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        members = {m.name: m for m in archive}
    assert members["runs/out.json"].isfile() and members["link"].issym() and members["linked-dir"].issym()
    assert "linked-dir/out.json" not in members  # a linked folder is not walked into


def test_agent_init_forwards_stop_signals(tmp_path: Path) -> None:
    """PID 1 ignores signals it does not handle: the init forwards SIGTERM to the agent (its handler runs, its exit
    status comes back) and turns SIGQUIT into SIGKILL of the agent (128 + 9)."""
    import signal
    import time

    graceful = ("import signal, sys, time\nsignal.signal(signal.SIGTERM, lambda *_: sys.exit(7))\n"
                "print('ready', flush=True)\ntime.sleep(60)\n")
    stubborn = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\ntime.sleep(60)\n"
    for program, sig, code in ((graceful, signal.SIGTERM, 7), (stubborn, signal.SIGQUIT, 137)):
        proc = subprocess.Popen([sys.executable, "-I", "-c", AGENT_INIT, "-", sys.executable, "-c", program],
                                stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        if sig == signal.SIGQUIT:
            proc.send_signal(signal.SIGTERM)  # ignored by this agent
            time.sleep(0.3)
            assert proc.poll() is None
        proc.send_signal(sig)
        assert proc.wait(timeout=30) == code
