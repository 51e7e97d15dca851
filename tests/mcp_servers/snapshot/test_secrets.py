"""Route 3 of issue 11, as the attack: bob downloads alice's snapshot to act as alice. Secrets never ride along."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport
from fastmcp.exceptions import ToolError

from mcp_servers.core import TokenStore, write_session
from mcp_servers.snapshot import FileObjectStore, build_server
from mcp_servers.snapshot._records import SnapshotEntryRow, SnapshotRow
from mcp_servers.snapshot._secrets import SecretFinder, secret_reason
from tests.mcp_servers.snapshot.snapshot_helpers import SEnv, call, member, rows, running, tar_b64, tree_of

ANTHROPIC_SHAPED = "sk-ant-api03-" + "A1b2C3d4" * 10


def stored_bytes(senv: SEnv) -> bytes:
    root = senv.settings.store_root / "objects"
    return b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file()) if root.exists() else b""


def plant_credentials(ws: Path, token: str) -> None:
    """What an agent's workspace holds besides code: its MCP config, the model client's home, credential files."""
    files = {
        ".mcp.json": f'{{"mcpServers": {{"grader": {{"headers": {{"Authorization": "Bearer {token}"}}}}}}}}',
        ".home/.claude/.credentials.json": f'{{"token": "{token}"}}',
        ".home/.claude.json": "{}",
        ".netrc": "machine x login a password p",
        ".env": f"W2S_TOKEN={token}",
        "sub/.git-credentials": "https://a:p@host",
        "certs/server.PEM": "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----",
        ".config/gh/hosts.yml": "oauth_token: gho_x",
        ".aws/credentials": "[default]\naws_secret_access_key = x",
    }
    for rel, text in files.items():
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / rel).write_text(text)
    (ws / "train.py").write_text("print('code')\n")
    (ws / "sub" / "util.py").write_text("X = 1\n")


async def test_mcp_json_and_home_are_neither_stored_nor_downloadable(senv: SEnv) -> None:
    plant_credentials(senv.ws("alice"), senv.tokens["alice"])
    alice, bob = build_server(local_token=senv.tokens["alice"]), build_server(local_token=senv.tokens["bob"])
    up = await call(alice, "upload_snapshot", message="alice's code")
    skipped = {s["path"]: s["reason"] for s in up["skipped"]}
    for secret in (".mcp.json", ".home/", ".netrc", ".env", "sub/.git-credentials", "certs/server.PEM", ".config/",
                   ".aws/"):
        assert "never snapshotted" in skipped[secret], secret
    detail = await call(bob, "get_snapshot", snapshot_id=up["snapshot_id"])
    assert {e["path"] for e in detail["entries"]} == {"train.py", "sub", "sub/util.py", "certs"}
    assert senv.tokens["alice"].encode() not in stored_bytes(senv)
    got = await call(bob, "download_snapshot", snapshot_id=up["snapshot_id"], into="from_alice")
    assert set(tree_of(senv.ws("bob") / "from_alice")) == {"train.py", "sub", "sub/util.py", "certs"}
    inline = await call(bob, "download_snapshot", snapshot_id=up["snapshot_id"], inline=True)
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(inline["archive_b64"]))) as tar:
        assert sorted(tar.getnames()) == ["certs", "sub", "sub/util.py", "train.py"]
    assert got["withheld"] == [] and senv.tokens["alice"] not in str(got) + str(inline)


async def test_inline_archive_credentials_are_left_out(senv: SEnv) -> None:
    bob = build_server(local_token=senv.tokens["bob"])
    up = await call(bob, "upload_snapshot", message="inline", archive_b64=tar_b64([
        (member(".mcp.json"), b"{}"), (member(".home", tarfile.DIRTYPE), None),
        (member(".home/.claude/x.json"), b"{}"), (member("deep/id_rsa"), b"k"), (member("ok.py"), b"ok\n")]))
    assert up["files"] == 1
    assert {s["path"] for s in up["skipped"]} == {".mcp.json", ".home", ".home/.claude/x.json", "deep/id_rsa"}


@pytest.mark.parametrize("whose", ["alice", "bob"])
async def test_upload_carrying_a_live_token_is_refused(senv: SEnv, whose: str) -> None:
    """A token pasted into code (the agent's own or one it obtained) never reaches the store."""
    (senv.ws("alice") / "ok.py").write_text("x = 1\n")
    (senv.ws("alice") / "scripts").mkdir()
    (senv.ws("alice") / "scripts" / "call.py").write_text(f"HEADERS = {{'Authorization': 'Bearer {senv.tokens[whose]}'}}\n")
    alice = build_server(local_token=senv.tokens["alice"])
    with pytest.raises(ToolError, match=r"'scripts/call.py' carries a live w2s bearer token") as refused:
        await call(alice, "upload_snapshot", message="leaks")
    assert senv.tokens[whose] not in str(refused.value) and ".snapshotignore" in str(refused.value)
    assert rows(alice) == 0 and stored_bytes(senv) == b""
    archive = tar_b64([(member("a.py"), b"a\n"), (member("pkg/cfg.txt"), f"t={senv.tokens[whose]}".encode())])
    with pytest.raises(ToolError, match=r"'pkg/cfg.txt' carries a live w2s bearer token"):
        await call(alice, "upload_snapshot", message="leaks inline", archive_b64=archive)
    assert rows(alice) == 0 and stored_bytes(senv) == b""


async def test_anthropic_key_and_private_key_are_refused_dead_tokens_are_not(senv: SEnv) -> None:
    alice = build_server(local_token=senv.tokens["alice"])
    (senv.ws("alice") / "client.py").write_text(f"KEY = '{ANTHROPIC_SHAPED}'\n")
    with pytest.raises(ToolError, match=r"'client.py' carries an Anthropic API key"):
        await call(alice, "upload_snapshot", message="key")
    (senv.ws("alice") / "client.py").write_text("HEADER = '-----BEGIN OPENSSH PRIVATE KEY-----'\n")  # a mention
    assert (await call(alice, "upload_snapshot", message="mentions the header"))["files"] == 1
    (senv.ws("alice") / "id").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n" + "b3BlbnNzaC1rZXktdjEAAAAA\n" * 4)
    with pytest.raises(ToolError, match=r"'id' carries a private key"):
        await call(alice, "upload_snapshot", message="key")
    dead = TokenStore(senv.settings.tokens_db).mint("alice", ["snapshot"], launch="old-run")
    TokenStore(senv.settings.tokens_db).revoke_launch("old-run")
    (senv.ws("alice") / "id").unlink()
    (senv.ws("alice") / "client.py").write_text(f"OLD = '{dead}'\nw2s_lab_settings_module_is_a_name = 1\n")
    assert (await call(alice, "upload_snapshot", message="no live secret"))["files"] == 1


async def test_old_snapshot_with_secrets_is_withheld_on_download(senv: SEnv) -> None:
    """Rows stored before the rules (a `.mcp.json`, a token inside code) are never handed out."""
    bob = build_server(local_token=senv.tokens["bob"])
    store = FileObjectStore(senv.settings.store_root)
    contents = {".mcp.json": b"{}", "leak.py": f"T = '{senv.tokens['alice']}'".encode(), "ok.py": b"ok\n"}
    with write_session(bob.engine) as session:
        row = SnapshotRow(agent="alice", message="old", created_at=datetime.now(UTC), source="workspace", files=3,
                          dirs=0, total_bytes=10, new_bytes=10)
        session.add(row)
        session.flush()
        for path, data in contents.items():
            digest = hashlib.sha256(data).hexdigest()
            local = senv.home / "tmp-object"
            local.write_bytes(data)
            store.put(digest, local)
            session.add(SnapshotEntryRow(snapshot_id=int(row.id or 0), path=path, sha256=digest, size=len(data)))
    got = await call(bob, "download_snapshot", snapshot_id=int(row.id or 0), into="old")
    assert tree_of(senv.ws("bob") / "old") == {"ok.py": (b"ok\n", False)}
    assert got["withheld"] == [{"path": "leak.py", "reason": "carries a live w2s bearer token; withheld"}]
    inline = await call(bob, "download_snapshot", snapshot_id=int(row.id or 0), inline=True)
    assert senv.tokens["alice"].encode() not in base64.b64decode(inline["archive_b64"])
    detail = await call(bob, "get_snapshot", snapshot_id=int(row.id or 0))
    assert ".mcp.json" not in {e["path"] for e in detail["entries"]}


async def test_http_bob_gets_no_secret_of_alice(senv: SEnv) -> None:
    plant_credentials(senv.ws("alice"), senv.tokens["alice"])
    app = build_server()
    async with running(app.http_app()) as url:
        def client(agent: str) -> Client:
            return Client(StreamableHttpTransport(f"{url}/mcp", headers={
                "Authorization": f"Bearer {senv.tokens[agent]}"}))

        async with client("alice") as alice:
            sid = (await alice.call_tool("upload_snapshot", {"message": "m"})).structured_content["snapshot_id"]
        async with client("bob") as bob:
            got = (await bob.call_tool("download_snapshot", {"snapshot_id": sid, "inline": True})).structured_content
    assert senv.tokens["alice"].encode() not in base64.b64decode(got["archive_b64"])


def test_token_across_a_chunk_boundary_is_found(tmp_path: Path) -> None:
    tokens = TokenStore(tmp_path / "tokens.db")
    token = tokens.mint("alice", ["snapshot"])
    finder = SecretFinder(tokens)
    data = b"x" * (1024 * 1024 - 20) + b"w2s_" + token.encode() + b"\n"  # also a doubled prefix
    assert finder.carries(io.BytesIO(data)) == "a live w2s bearer token"
    assert finder.carries(io.BytesIO(b"x" * 100)) is None


@pytest.mark.parametrize(("path", "is_dir", "secret"), [
    (".mcp.json", False, True), ("a/.home/b.txt", False, True), (".home", True, True), ("x/.ENV", False, True),
    ("k.key", False, True), ("prod.env", False, True), ("src/envs.py", False, False), ("home/a.py", False, False),
    ("mcp.json", False, False), ("keys.py", False, False)])
def test_secret_names(path: str, is_dir: bool, secret: bool) -> None:
    assert (secret_reason(path, is_dir) is not None) == secret
