from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from mcp_servers.core import AGENT_SCOPES, TOKEN_RE, TokenStore, hash_token
from tests.mcp_servers.server_helpers import ServerProcess, free_port

INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def test_mint_verify_revoke(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.db")
    token = store.mint("agent-1", ["grader"])
    identity = store.verify(token)
    assert identity is not None and identity.agent == "agent-1" and identity.allows("grader")
    assert not identity.allows("findings") and not identity.is_admin
    assert store.verify(token + "x") is None and store.verify("") is None
    assert store.revoke(agent="agent-1") == 1 and store.verify(token) is None


def test_only_hashes_are_stored(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.db")
    token = store.mint("a", AGENT_SCOPES)
    raw = (tmp_path / "tokens.db").read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("tokens.db-*"))
    assert token.encode() not in raw
    with sqlite3.connect(tmp_path / "tokens.db") as conn:
        assert conn.execute("SELECT token_sha256 FROM core_token").fetchone()[0] == hash_token(token)


def test_admin_only_on_request_and_bad_input(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.db")
    assert all("admin" not in scope for scope in AGENT_SCOPES)
    admin = store.verify(store.mint("op", [], admin=True))
    assert admin is not None and admin.is_admin and admin.allows("grader")
    with pytest.raises(ValueError, match="unknown scope"):
        store.mint("a", ["admin"])
    with pytest.raises(ValueError, match="agent name"):
        store.mint("../etc", ["grader"])
    with pytest.raises(ValueError):
        store.revoke()
    assert [t.agent for t in store.list()] == ["op"]


def test_revoke_launch_revokes_only_that_launch(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.db")
    run1 = [store.mint(a, ["snapshot"], launch="launch-1") for a in ("alice", "bob")]
    run2 = store.mint("alice", ["snapshot"], launch="launch-2")
    manual = store.mint("alice", ["snapshot"], label="operator's own")
    assert {t.launch for t in store.list()} == {"launch-1", "launch-2", None}
    assert store.revoke_launch("launch-1") == 2
    assert all(store.verify(t) is None for t in run1)
    assert store.verify(run2) is not None and store.verify(manual) is not None
    assert store.revoke_launch("launch-1") == 0 and store.revoke_launch("never-started") == 0
    with pytest.raises(ValueError, match="launch id"):
        store.mint("alice", ["snapshot"], launch="../x")
    with pytest.raises(ValueError, match="launch id"):
        store.revoke_launch("")


def test_a_trailing_newline_is_refused_in_agent_names_and_launch_ids(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.db")
    with pytest.raises(ValueError, match="agent name"):
        store.mint("a1\n", ["grader"])
    with pytest.raises(ValueError, match="launch id"):
        store.mint("a1", ["grader"], launch="launch-1\n")
    assert store.list() == []


def test_old_database_is_migrated_in_place(tmp_path: Path) -> None:
    db = tmp_path / "tokens.db"
    with sqlite3.connect(db) as conn:  # the schema before tokens had a launch
        conn.execute("CREATE TABLE core_token (id INTEGER PRIMARY KEY, agent VARCHAR NOT NULL, token_sha256 VARCHAR "
                     "NOT NULL UNIQUE, scopes VARCHAR NOT NULL, label VARCHAR NOT NULL, created_at DATETIME NOT NULL, "
                     "revoked_at DATETIME)")
        conn.execute("INSERT INTO core_token (agent, token_sha256, scopes, label, created_at) VALUES "
                     "('old', ?, 'grader', '', '2026-01-01 00:00:00')", (hash_token("w2s_" + "o" * 43),))
    store = TokenStore(db)
    assert store.verify("w2s_" + "o" * 43) is not None  # old tokens keep working, with no launch
    fresh = store.mint("new", ["grader"], launch="L")
    assert store.revoke_launch("L") == 1 and store.verify(fresh) is None
    assert store.verify("w2s_" + "o" * 43) is not None
    TokenStore(db)  # a second server opening the migrated db changes nothing
    with sqlite3.connect(db) as conn:
        assert [r[1] for r in conn.execute("PRAGMA table_info(core_token)")].count("launch") == 1


def test_live_agents_finds_only_live_tokens(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.db")
    live, dead = store.mint("alice", ["grader"]), store.mint("bob", ["grader"], launch="L")
    store.revoke_launch("L")
    assert store.live_agents([live, dead, "w2s_" + "x" * 43, "plain"]) == {live: "alice"}
    assert TOKEN_RE.fullmatch(live) and TOKEN_RE.fullmatch(dead)


async def test_launch_token_fails_over_http_after_revoke_launch(state: Path) -> None:
    """The orchestrator stops a launch (another process, here this one): the server refuses its tokens at once."""
    store = TokenStore(state / "tokens.db")
    token = store.mint("alice", ["snapshot"], launch="launch-7")
    other = store.mint("bob", ["snapshot"], launch="launch-8")
    server = ServerProcess("mcp_servers.snapshot", state.parent.parent, free_port(),
                           W2S_LITESTREAM="false").start()
    try:
        async with httpx.AsyncClient() as http:
            async def status(bearer: str) -> int:
                return (await http.post(f"{server.url}/mcp", json=INIT, headers=HEADERS | {
                    "Authorization": f"Bearer {bearer}"})).status_code

            assert await status(token) == 200 and await status(other) == 200
            assert TokenStore(state / "tokens.db").revoke_launch("launch-7") == 1
            assert await status(token) == 401
            assert await status(other) == 200
    finally:
        server.stop()


def test_servers_starting_together_migrate_once(tmp_path: Path) -> None:
    db = tmp_path / "tokens.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE core_token (id INTEGER PRIMARY KEY, agent VARCHAR NOT NULL, token_sha256 VARCHAR "
                     "NOT NULL UNIQUE, scopes VARCHAR NOT NULL, label VARCHAR NOT NULL, created_at DATETIME NOT NULL, "
                     "revoked_at DATETIME)")
    with ThreadPoolExecutor(6) as pool:  # six servers of one `serve` opening the old db at once
        stores = list(pool.map(lambda _: TokenStore(db), range(6)))
    token = stores[0].mint("a", ["grader"], launch="L")
    assert stores[5].revoke_launch("L") == 1 and stores[3].verify(token) is None
