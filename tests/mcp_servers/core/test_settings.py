from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

import pytest
from pydantic_settings import SettingsConfigDict

from mcp_servers.core import ServerSettings


class _Demo(ServerSettings):
    model_config = SettingsConfigDict(env_prefix="W2S_DEMO_", extra="ignore", populate_by_name=True)
    config_section: ClassVar[str | None] = "demo"
    knob: int = 1


def test_defaults_come_from_trainer_paths(state: Path) -> None:
    settings = ServerSettings()
    assert settings.state_dir == state and settings.tokens_db == state / "tokens.db"
    assert settings.replica_for("grader") == (state / "replicas" / "grader").as_uri()
    assert settings.token is None and settings.litestream is False


def test_file_then_env_then_arguments(state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "w2s.toml"
    config.write_text('replica_url = "s3://bucket/w2s/"\nmax_request_bytes = 10\n[demo]\nknob = 2\n')
    monkeypatch.setenv("W2S_CONFIG", str(config))
    assert _Demo().knob == 2 and _Demo().replica_for("grader") == "s3://bucket/w2s/grader"
    monkeypatch.setenv("W2S_DEMO_KNOB", "3")
    monkeypatch.setenv("W2S_MAX_REQUEST_BYTES", "20")
    assert _Demo().knob == 3 and _Demo().max_request_bytes == 20
    assert _Demo(knob=4).knob == 4


def test_token_is_secret(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("W2S_TOKEN", "w2s_secret")
    settings = ServerSettings()
    assert settings.token is not None and settings.token.get_secret_value() == "w2s_secret"
    assert "w2s_secret" not in repr(settings)


def test_replica_endpoint_settings_ride_in_the_url(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("W2S_REPLICA_URL", "s3://bucket/w2s/")
    monkeypatch.setenv("W2S_REPLICA_ENDPOINT", "http://127.0.0.1:9000")
    monkeypatch.setenv("W2S_REPLICA_REGION", "us-east-1")
    monkeypatch.setenv("W2S_REPLICA_FORCE_PATH_STYLE", "true")
    assert ServerSettings().replica_for("grader") == (
        "s3://bucket/w2s/grader?endpoint=http://127.0.0.1:9000&region=us-east-1&forcePathStyle=true")
    for bad, why in (("s3://AKIA:secret@bucket/p", "credentials"), ("s3://bucket/p?secret-access-key=x", "credentials"),
                     ("gs://bucket/p", "scheme"), ("s3:///p", "no bucket")):
        with pytest.raises(ValueError, match=why):
            ServerSettings(replica_url=bad)
    with pytest.raises(ValueError, match="replica_endpoint"):
        ServerSettings(replica_endpoint="minio:9000")


def test_cors_origins_from_env_and_file(state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert ServerSettings().cors_origins == ()
    config = tmp_path / "w2s.toml"
    config.write_text('cors_origins = ["http://localhost:6274"]\n')
    monkeypatch.setenv("W2S_CONFIG", str(config))
    assert _Demo().cors_origins == ("http://localhost:6274",)
    # Written as a browser sends its Origin header: lower case, no default port; repeats dropped.
    monkeypatch.setenv("W2S_CORS_ORIGINS", " http://localhost:6274,HTTPS://Lab.Example:443,, http://[::1]:6274,"
                                           "http://localhost:6274")
    assert ServerSettings().cors_origins == ("http://localhost:6274", "https://lab.example", "http://[::1]:6274")


@pytest.mark.parametrize("origins", ["*", "http://localhost:6274,*"])
def test_cors_wildcard_is_refused(state: Path, monkeypatch: pytest.MonkeyPatch, origins: str) -> None:
    monkeypatch.setenv("W2S_CORS_ORIGINS", origins)
    with pytest.raises(ValueError, match=r"refuses '\*'.*list each browser origin"):
        ServerSettings()


@pytest.mark.parametrize("bad", ["http://localhost:6274/", "http://localhost:6274/mcp", "localhost:6274",
                                 "ftp://host", "http://user@host", "http://host:port", "http://host?x=1", "null",
                                 "http://*.example.com"])
def test_a_bad_cors_origin_is_refused(state: Path, bad: str) -> None:
    with pytest.raises(ValueError, match=rf"cors_origins entry '{re.escape(bad)}' must be scheme://host\[:port\]"):
        ServerSettings(cors_origins=bad)
