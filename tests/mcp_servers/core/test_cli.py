from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mcp_servers.core import ServerSettings, TokenStore
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


def test_tokens_of_a_launch_are_revoked_together(state: Path) -> None:
    runner = CliRunner()
    launch_tokens = [runner.invoke(tokens_app, ["mint", name, "--launch", "L1"]).stdout.strip().splitlines()[-1]
                     for name in ("a1", "a2")]
    other = runner.invoke(tokens_app, ["mint", "a3", "--launch", "L2"]).stdout.strip().splitlines()[-1]
    assert "L1" in runner.invoke(tokens_app, ["list"]).stdout
    assert runner.invoke(tokens_app, ["revoke", "--launch", "L1", "--agent", "a1"]).exit_code != 0
    revoked = runner.invoke(tokens_app, ["revoke", "--launch", "L1"])
    assert revoked.exit_code == 0 and "revoked 2" in revoked.output
    store = TokenStore(state / "tokens.db")
    assert [store.verify(t) for t in launch_tokens] == [None, None] and store.verify(other) is not None


def test_replica_where(state: Path) -> None:
    out = CliRunner().invoke(replica_app, ["where", "grader"])
    assert out.exit_code == 0 and "grader.db" in out.stdout and "file://" in out.stdout


def _dump(db: Path) -> dict[str, list[tuple]]:
    """Every row of every user table (sqlite_sequence is left out: a restore moves it on purpose)."""
    import sqlite3

    from mcp_servers.core._replica import user_tables

    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return {t: sorted(conn.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in user_tables(db)}


def _mcp(url: str, token: str):  # type: ignore[no-untyped-def]
    from fastmcp import Client
    from fastmcp.client.transports import StreamableHttpTransport

    return Client(StreamableHttpTransport(f"{url}/mcp", headers={"Authorization": f"Bearer {token}"}))


@pytest.mark.slow
async def test_restore_all_on_a_fresh_host_brings_every_row_and_blob_back(
        w2s_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Real grader, findings and snapshot servers replicate to moto's S3 server, the tokens db through
    `replica run`; then `replica restore --all` into an empty W2S_HOME, and a snapshot server there hands the
    blobs back from S3."""
    from tests.mcp_servers.grader.conftest import build_env
    from tests.mcp_servers.s3_server import moto_server
    from tests.mcp_servers.server_helpers import REPO, ServerProcess, free_port
    from trainer import paths

    with moto_server() as s3:
        w2s_env = {k: v for k, v in s3.replica_env("host1").items() if k.startswith("W2S_")}
        for name, value in s3.replica_env("host1").items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("W2S_LITESTREAM", "true")
        genv = build_env(w2s_home, test_groups=20)
        dave = TokenStore(ServerSettings().tokens_db).mint("dave", ["snapshot"])
        (paths().workspaces_dir / "dave").mkdir(parents=True)
        (paths().workspaces_dir / "dave" / "train.py").write_bytes(b"print('weak to strong')\n" * 50)
        admin = [sys.executable, "-c", "from mcp_servers.admin import app; app()"]
        replicator = subprocess.Popen([*admin, "replica", "run", "tokens"],  # noqa: ASYNC220 - setup, not awaited
                                      cwd=REPO, stderr=subprocess.PIPE)
        servers = {name: ServerProcess(f"mcp_servers.{name}", w2s_home, free_port(), W2S_LITESTREAM="true",
                                       **w2s_env).start() for name in ("grader", "findings", "snapshot")}
        try:
            async with _mcp(servers["grader"].url, genv.tokens["bob"]) as bob:
                sub = (await bob.call_tool("submit_predictions", {
                    "dataset": "toy", "predictions": [float(t) for t in genv.truth["toy"]]})).structured_content
            async with _mcp(servers["findings"].url, genv.tokens["bob"]) as bob:
                await bob.call_tool("post_finding", {
                    "title": "Survives the host", "summary": "s", "body": "b", "finding_type": "result", "idea": "i",
                    "method_family": "ensemble", "submission_ids": [sub["submission_id"]]})
            async with _mcp(servers["snapshot"].url, dave) as client:
                snap = (await client.call_tool("upload_snapshot", {"message": "before the host dies"})
                        ).structured_content
        finally:
            for server in servers.values():
                server.stop()  # SIGTERM: each replicator flushes the last writes to S3
            replicator.send_signal(signal.SIGTERM)
            assert replicator.wait(60) == 0, replicator.stderr.read()  # type: ignore[union-attr]
        state = paths().state_dir
        before = {name: _dump(state / f"{name}.db") for name in ("grader", "findings", "snapshot", "tokens")}
        assert before["grader"] and sum(len(rows) for rows in before["findings"].values()) > 0

        fresh = tmp_path / "fresh-host"
        monkeypatch.setenv("W2S_HOME", str(fresh))
        done = CliRunner().invoke(replica_app, ["restore", "--all"])
        assert done.exit_code == 0, done.output
        assert "orchestrator" in done.output and "no replica" in done.output
        after_state = paths().state_dir
        for name, tables in before.items():
            assert _dump(after_state / f"{name}.db") == tables, f"{name} lost rows"
        assert TokenStore(after_state / "tokens.db").verify(dave) is not None
        assert CliRunner().invoke(replica_app, ["restore", "--all"]).exit_code == 1  # never over restored files

        (paths().workspaces_dir / "dave").mkdir(parents=True)
        server = ServerProcess("mcp_servers.snapshot", fresh, free_port(), W2S_LITESTREAM="false", **w2s_env).start()
        try:
            async with _mcp(server.url, dave) as client:
                await client.call_tool("download_snapshot", {"snapshot_id": snap["snapshot_id"], "into": "back"})
        finally:
            server.stop()
        assert (paths().workspaces_dir / "dave" / "back" / "train.py").read_bytes() == b"print('weak to strong')\n" * 50


def test_replica_restore_arguments_and_tokens_path(state: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(replica_app, ["restore"]).exit_code != 0  # neither a name nor --all
    assert runner.invoke(replica_app, ["restore", "grader", "--all"]).exit_code != 0
    assert runner.invoke(replica_app, ["restore", "--all", "--txid", "0000000000000001"]).exit_code != 0
    where = runner.invoke(replica_app, ["where", "tokens"])
    assert where.stdout.startswith(str(state / "tokens.db"))
    assert runner.invoke(replica_app, ["run", "nonsense"]).exit_code != 0
    done = runner.invoke(replica_app, ["run"])  # nothing exists yet: says so instead of replicating nothing
    assert done.exit_code == 1 and "start the servers first" in done.output
