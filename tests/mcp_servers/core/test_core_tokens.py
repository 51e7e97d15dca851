from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mcp_servers.core import AGENT_SCOPES, TokenStore, hash_token


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
