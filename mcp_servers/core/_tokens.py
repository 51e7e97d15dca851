"""Per-agent bearer tokens: minted by the operator, stored as sha256 hashes, scoped per server.

A token is `w2s_<random>`; the plaintext is shown once, at minting, and never stored or logged. Scopes are server
names (`grader`, `findings`, `snapshot`, `train`, `predict`) plus `admin`, which only an operator token carries.

A token may belong to a launch (`mint(..., launch="L")`): the orchestrator calls `revoke_launch("L")` when that
`serve`/`launch` stops, so no token outlives the run that handed it out. Databases made before the `launch` column
existed are migrated in place when a `TokenStore` opens them.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Field, SQLModel, select

from mcp_servers.core._db import _retry_locked, create_sqlite_engine, init_tables, read_session, write_session

ADMIN_SCOPE = "admin"
AGENT_SCOPES: tuple[str, ...] = ("grader", "findings", "snapshot", "train", "predict")
"""Every server an agent may be given; `admin` is never among them."""
TOKEN_PREFIX = "w2s_"
_AGENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
_LAUNCH_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}\Z")
TOKEN_RE = re.compile(r"w2s_[A-Za-z0-9_-]{43}")
"""What a minted token looks like (`w2s_` + 43 url-safe characters); used to find tokens inside text."""


class TokenRow(SQLModel, table=True):
    __tablename__ = "core_token"

    id: int | None = Field(default=None, primary_key=True)
    agent: str = Field(index=True)
    token_sha256: str = Field(unique=True, index=True)
    scopes: str
    """Space-separated scopes."""
    label: str = ""
    created_at: datetime
    revoked_at: datetime | None = None
    launch: str | None = Field(default=None, index=True)
    """The `serve`/`launch` run this token was minted for (revoked together when it stops), or None."""


@dataclass(frozen=True)
class Identity:
    """Who is calling, as established by a token (never by a tool argument)."""

    agent: str
    scopes: frozenset[str]
    token_id: int | None = None

    @property
    def is_admin(self) -> bool:
        return ADMIN_SCOPE in self.scopes

    def allows(self, server: str) -> bool:
        return server in self.scopes or self.is_admin


@dataclass(frozen=True)
class TokenInfo:
    id: int
    agent: str
    scopes: tuple[str, ...]
    label: str
    created_at: datetime
    revoked_at: datetime | None
    launch: str | None = None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def validate_agent_name(agent: str) -> str:
    if not _AGENT_RE.match(agent):
        raise ValueError(f"agent name {agent!r} must be 1-64 of letters, digits, '_', '.', '-' (starting alnum)")
    return agent


def validate_launch(launch: str) -> str:
    if not isinstance(launch, str) or not _LAUNCH_RE.match(launch):
        raise ValueError(f"launch id {launch!r} must be 1-128 of letters, digits, '_', '.', ':', '-' (starting alnum)")
    return launch


def _migrate(engine: Engine) -> None:
    """Add the `launch` column to a tokens db made before it existed (every server opens the db: idempotent)."""

    def run() -> None:
        with engine.begin() as conn:
            columns = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(core_token)")}
            if "launch" not in columns:
                try:
                    conn.exec_driver_sql("ALTER TABLE core_token ADD COLUMN launch VARCHAR")
                except OperationalError as exc:  # another server migrated it between our check and ALTER
                    if "duplicate column" not in str(exc):
                        raise
            conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_core_token_launch ON core_token (launch)")

    _retry_locked(run)


class TokenStore:
    """The tokens database shared by every server (`<state_dir>/tokens.db`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.engine = create_sqlite_engine(path)
        init_tables(self.engine, TokenRow)
        _migrate(self.engine)
        path.chmod(0o600)

    def mint(self, agent: str, scopes: list[str] | tuple[str, ...] = AGENT_SCOPES, *, admin: bool = False,
             label: str = "", launch: str | None = None) -> str:
        """Create a token and answer its plaintext (the only time it exists outside the caller).

        `launch`: the run this token is for; `revoke_launch(launch)` revokes it with every other one of that run.
        """
        validate_agent_name(agent)
        if launch is not None:
            validate_launch(launch)
        unknown = set(scopes) - set(AGENT_SCOPES)
        if unknown:
            raise ValueError(f"unknown scope(s) {sorted(unknown)}; choose from {', '.join(AGENT_SCOPES)}")
        if not scopes and not admin:
            raise ValueError("a token needs at least one server scope (or admin)")
        all_scopes = sorted(set(scopes) | ({ADMIN_SCOPE} if admin else set()))
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with write_session(self.engine) as session:
            session.add(TokenRow(agent=agent, token_sha256=hash_token(token), scopes=" ".join(all_scopes),
                                 label=label, created_at=datetime.now(UTC), launch=launch))
        return token

    def verify(self, token: str) -> Identity | None:
        """The identity behind a live token, or None (unknown, revoked or malformed)."""
        if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        with read_session(self.engine) as session:
            row = session.exec(select(TokenRow).where(TokenRow.token_sha256 == hash_token(token))).first()
        if row is None or row.revoked_at is not None:
            return None
        return Identity(agent=row.agent, scopes=frozenset(row.scopes.split()), token_id=row.id)

    def list(self, agent: str | None = None, include_revoked: bool = False) -> list[TokenInfo]:
        with read_session(self.engine) as session:
            query = select(TokenRow).order_by(TokenRow.id)  # type: ignore[arg-type]
            if agent:
                query = query.where(TokenRow.agent == agent)
            rows = session.exec(query).all()
        return [
            TokenInfo(int(r.id or 0), r.agent, tuple(r.scopes.split()), r.label, r.created_at, r.revoked_at, r.launch)
            for r in rows if include_revoked or r.revoked_at is None
        ]

    def revoke(self, *, token_id: int | None = None, agent: str | None = None) -> int:
        """Revoke one token by id, or every live token of an agent; answers how many were revoked."""
        if (token_id is None) == (agent is None):
            raise ValueError("revoke needs exactly one of token_id or agent")
        with write_session(self.engine) as session:
            query = select(TokenRow).where(TokenRow.revoked_at.is_(None))  # type: ignore[union-attr]
            query = query.where(TokenRow.id == token_id) if token_id is not None else query.where(
                TokenRow.agent == agent)
            rows = session.exec(query).all()
            for row in rows:
                row.revoked_at = datetime.now(UTC)
                session.add(row)
        return len(rows)

    def revoke_launch(self, launch: str) -> int:
        """Revoke every live token minted for `launch` (its serve/launch stopped); answers how many."""
        validate_launch(launch)
        with write_session(self.engine) as session:
            rows = session.exec(select(TokenRow).where(TokenRow.launch == launch,
                                                       TokenRow.revoked_at.is_(None))).all()  # type: ignore[union-attr]
            now = datetime.now(UTC)
            for row in rows:
                row.revoked_at = now
                session.add(row)
        return len(rows)

    def live_agents(self, candidates: Iterable[str]) -> dict[str, str]:
        """Which of `candidates` (plaintext strings) are live tokens: {candidate: agent} (one query, hashes only)."""
        by_hash = {hash_token(c): c for c in candidates if c.startswith(TOKEN_PREFIX) and len(c) <= 200}
        if not by_hash:
            return {}
        found: dict[str, str] = {}
        hashes = list(by_hash)
        with read_session(self.engine) as session:
            for start in range(0, len(hashes), 500):
                rows = session.exec(select(TokenRow).where(TokenRow.token_sha256.in_(hashes[start:start + 500]),  # type: ignore[attr-defined]
                                                           TokenRow.revoked_at.is_(None))).all()  # type: ignore[union-attr]
                found.update({by_hash[r.token_sha256]: r.agent for r in rows})
        return found
