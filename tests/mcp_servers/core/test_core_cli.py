from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from mcp_servers.core import TokenStore
from mcp_servers.core._cli import replica_app, tokens_app


def test_tokens_mint_list_revoke(state: Path) -> None:
    runner = CliRunner()
    minted = runner.invoke(tokens_app, ["mint", "agent-7", "--server", "grader", "--label", "run 1"])
    assert minted.exit_code == 0, minted.output
    token = minted.stdout.strip().splitlines()[-1]
    assert TokenStore(state / "tokens.db").verify(token) is not None
    listed = runner.invoke(tokens_app, ["list"])
    assert "agent-7" in listed.stdout and token not in listed.stdout
    assert runner.invoke(tokens_app, ["mint", "x", "--server", "admin"]).exit_code != 0
    assert runner.invoke(tokens_app, ["revoke", "--agent", "agent-7"]).exit_code == 0
    assert TokenStore(state / "tokens.db").verify(token) is None


def test_replica_where(state: Path) -> None:
    out = CliRunner().invoke(replica_app, ["where", "grader"])
    assert out.exit_code == 0 and "grader.db" in out.stdout and "file://" in out.stdout
