"""`orchestrator dashboard` and `orchestrator report` as commands: the real CLI in a child process beyond
loopback refuses requests without the token; the report command writes its files."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from orchestrator.cli import app as orchestrator_app
from orchestrator.dashboard import TOKEN_FILE, register, resolve_token, save_generated_token
from tests.mcp_servers.server_helpers import free_port
from tests.orchestrator.dashboard.dash_helpers import DEnv

REPO = Path(__file__).resolve().parents[3]


def test_register_adds_both_commands() -> None:
    app = typer.Typer()
    register(app)
    names = {c.callback.__name__ for c in app.registered_commands}  # type: ignore[union-attr]
    assert names == {"dashboard", "report"}
    assert {"dashboard", "report"} <= {c.callback.__name__ for c in orchestrator_app.registered_commands}  # type: ignore[union-attr]


def test_resolve_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("W2S_DASHBOARD_TOKEN", raising=False)
    assert resolve_token("127.0.0.1", None) is None
    made = resolve_token("0.0.0.0", None)
    assert made is not None and len(made) >= 32 and made != resolve_token("0.0.0.0", None)
    monkeypatch.setenv("W2S_DASHBOARD_TOKEN", "x" * 20)
    assert resolve_token("0.0.0.0", None) == "x" * 20 and resolve_token("127.0.0.1", None) == "x" * 20
    (tmp_path / "tok").write_text("y" * 24 + "\n")
    assert resolve_token("0.0.0.0", tmp_path / "tok") == "y" * 24
    (tmp_path / "short").write_text("abc")
    with pytest.raises(typer.BadParameter, match="shorter than 16"):
        resolve_token("0.0.0.0", tmp_path / "short")
    with pytest.raises(typer.BadParameter, match="cannot read"):
        resolve_token("0.0.0.0", tmp_path / "missing")


def test_generated_token_is_saved_owner_only_and_replaced(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = save_generated_token(state, "a" * 43)
    assert first == state / TOKEN_FILE and first.read_text() == "a" * 43 + "\n"
    assert stat.S_IMODE(first.stat().st_mode) == 0o600
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("keep")
    first.unlink()
    first.symlink_to(elsewhere)  # a link planted at the name is replaced, not written through
    assert save_generated_token(state, "b" * 43).read_text() == "b" * 43 + "\n"
    assert elsewhere.read_text() == "keep" and not first.is_symlink()
    assert sorted(p.name for p in state.iterdir()) == [TOKEN_FILE]  # no staged file left behind


def _start(home: Path, port: int, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("W2S_")}
    env.update(W2S_HOME=str(home), PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-m", "orchestrator.cli", "dashboard", "--port", str(port), *args],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_beyond_loopback_refuses_unauthenticated_requests(denv: DEnv) -> None:
    port = free_port()
    proc = _start(denv.home, port, "--host", "0.0.0.0")
    try:
        line = proc.stderr.readline()  # type: ignore[union-attr]
        found = re.search(r"the generated token is in (.+)\)$", line.strip())
        assert found is not None and "token=" not in line, line
        saved = Path(found.group(1))
        assert saved == denv.home / "private" / "state" / TOKEN_FILE and stat.S_IMODE(saved.stat().st_mode) == 0o600
        token = saved.read_text().strip()
        assert len(token) >= 32 and token not in line
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                refused = httpx.get(url + "/")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.1)
        assert refused.status_code == 401 and "Leaderboard" not in refused.text
        assert httpx.get(url + "/api/figures").status_code == 401
        ok = httpx.get(url + "/", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200 and "Leaderboard: toy" in ok.text
    finally:
        proc.terminate()
        proc.wait(10)


def test_report_command(denv: DEnv, tmp_path: Path) -> None:
    result = CliRunner().invoke(orchestrator_app, ["report", "--out", str(tmp_path / "r"), "--dataset", "toy"])
    assert result.exit_code == 0, result.output
    assert str(tmp_path / "r" / "report.md") in result.output and (tmp_path / "r" / "pgr_over_time.svg").is_file()
    bad = CliRunner().invoke(orchestrator_app, ["report", "--out", str(tmp_path / "r2"), "--dataset", "nope"])
    assert bad.exit_code == 2 and "no submissions for dataset(s) nope" in bad.output
