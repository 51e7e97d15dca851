"""Settings of the k8s backend and kubectl as its client: the real binary where installed, never a fake one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from sandbox.k8s_cluster import INSTALL_HINT, K8sSettings, Kubectl, KubectlError, last_line


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in K8sSettings.model_fields:
        monkeypatch.delenv(f"W2S_K8S_{name.upper()}", raising=False)
    monkeypatch.delenv("W2S_CONFIG", raising=False)


def test_settings_from_env_file_and_target(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "w2s.toml"
    config.write_text('[k8s]\nnamespace = "research"\nimage = "reg.example.org/agent:2"\nresults = "copy"\n'
                      'allow_cidrs = ["10.0.0.5/32"]\n')
    monkeypatch.setenv("W2S_CONFIG", str(config))
    monkeypatch.setenv("W2S_K8S_IMAGE", "reg.example.org/agent:3")
    monkeypatch.setenv("W2S_K8S_ALLOW_CIDRS", "10.0.0.5/32, 10.0.0.6/32")
    settings = K8sSettings.from_env()
    assert settings.namespace == "research" and settings.results == "copy"
    assert settings.image == "reg.example.org/agent:3"  # the environment wins over the file
    assert settings.allow_cidrs == ["10.0.0.5/32", "10.0.0.6/32"]
    target = settings.with_target("k8s://gpu-cluster/agents")
    assert (target.context, target.namespace) == ("gpu-cluster", "agents")
    assert settings.with_target("k8s:///other").context is None
    with pytest.raises(ValueError, match="k8s://CONTEXT/NAMESPACE"):
        settings.with_target("k8s://a/b/c")
    with pytest.raises(ValidationError):
        K8sSettings(namespace="Not_A_Namespace")
    with pytest.raises(ValidationError):
        K8sSettings(results="rsync")  # type: ignore[arg-type]


def test_kubectl_arguments_carry_kubeconfig_context_namespace(tmp_path: Path) -> None:
    kube = Kubectl(K8sSettings(kubeconfig=tmp_path / "cfg", context="ctx", namespace="ns"))
    argv = kube.argv("get", "pods")
    assert argv[1:] == ["--kubeconfig", str(tmp_path / "cfg"), "--context", "ctx", "--namespace", "ns", "get", "pods"]
    assert "--namespace" not in kube.argv("version", namespaced=False)


def test_without_kubectl_the_reason_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    kube = Kubectl(K8sSettings())
    reason = kube.available()
    assert reason is not None and "kubectl not found" in reason and INSTALL_HINT in reason
    with pytest.raises(KubectlError, match="install kubectl"):
        kube.get("pod", "x")


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed on this machine")
def test_real_kubectl_says_no_cluster_answers(tmp_path: Path) -> None:
    """The real kubectl against a kubeconfig whose server is a closed loopback port: the reason names it."""
    config = tmp_path / "kubeconfig"
    config.write_text("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:9\n"
                      "contexts:\n- name: closed\n  context:\n    cluster: c\n    user: u\ncurrent-context: closed\n"
                      "users:\n- name: u\n  user:\n    token: not-a-real-token\n")
    kube = Kubectl(K8sSettings(kubeconfig=config, request_timeout_s=5))
    reason = kube.available()
    assert reason is not None and reason.startswith("no Kubernetes cluster answers")
    assert "127.0.0.1:9" in reason and "not-a-real-token" not in reason
    missing = Kubectl(K8sSettings(kubeconfig=config, context="nope", request_timeout_s=5)).available()
    assert missing is not None and "nope" in missing


def test_last_line_is_the_useful_one() -> None:
    assert last_line(b"E1129 memcache.go: noise\nThe connection to the server was refused\n\n") == \
        "The connection to the server was refused"
    assert last_line(b"") == "no error message"
    # a collect container's stderr names the agent's files: its escapes never reach the operator's terminal
    shown = last_line(b"skipped /w2s/workspace/\x1b]0;owned\x07\x1b[2Jx: Permission denied\r\n")
    assert "\x1b" not in shown and "\x07" not in shown and shown.startswith("skipped /w2s/workspace/\\x1b]0;owned")
