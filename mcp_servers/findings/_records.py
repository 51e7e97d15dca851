"""The findings database: findings, their grader citations, comments, votes, an FTS5 index and a change counter.

Every change (a new finding, a comment, a vote, a new grader score) stamps the finding with the next value of one
global sequence (`findings_meta.seq`); `export_since(cursor)` and the workspace syncer follow that sequence.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, UniqueConstraint, text
from sqlmodel import Field, Session, SQLModel

from mcp_servers.core import IdempotencyRecord, init_tables


class FindingRow(SQLModel, table=True):
    __tablename__ = "findings_finding"

    id: int | None = Field(default=None, primary_key=True)
    agent: str = Field(index=True)
    title: str
    summary: str
    body: str
    finding_type: str = Field(index=True)
    idea: str = Field(index=True)
    method_family: str = Field(index=True)
    config_json: str = "{}"
    tags_json: str = "[]"
    created_at: datetime = Field(index=True)
    updated_at: datetime
    seq: int = Field(index=True)
    """Value of the change sequence at this finding's last change."""
    best_pgr: float | None = Field(default=None, index=True)
    """Best grader-reported public PGR over the cited submissions (what `min_pgr` filters on)."""


class CitationRow(SQLModel, table=True):
    __tablename__ = "findings_citation"
    __table_args__ = (UniqueConstraint("finding_id", "submission_id"),)

    id: int | None = Field(default=None, primary_key=True)
    finding_id: int = Field(foreign_key="findings_finding.id", index=True)
    submission_id: int = Field(index=True)


class CommentRow(SQLModel, table=True):
    __tablename__ = "findings_comment"

    id: int | None = Field(default=None, primary_key=True)
    finding_id: int = Field(foreign_key="findings_finding.id", index=True)
    agent: str
    body: str
    created_at: datetime


class VoteRow(SQLModel, table=True):
    __tablename__ = "findings_vote"
    __table_args__ = (UniqueConstraint("finding_id", "agent"),)

    id: int | None = Field(default=None, primary_key=True)
    finding_id: int = Field(foreign_key="findings_finding.id", index=True)
    agent: str
    value: int
    updated_at: datetime


class IdempotencyRow(IdempotencyRecord, table=True):
    """The first answer to a post with a client key: a retry with the key answers it again, stores nothing."""

    __tablename__ = "findings_idempotency"
    __table_args__ = (UniqueConstraint("agent", "key"),)

    finding_id: int = Field(foreign_key="findings_finding.id")


class MetaRow(SQLModel, table=True):
    __tablename__ = "findings_meta"

    key: str = Field(primary_key=True)
    value: str


FTS_COLUMNS = ("title", "summary", "body", "idea", "tags")
FTS_WEIGHTS = (10.0, 5.0, 1.0, 4.0, 4.0)
"""bm25 weights per FTS column: a hit in the title counts ten times a hit in the body."""

_DDL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS findings_fts USING fts5("
    + ", ".join(FTS_COLUMNS) + ", tokenize='porter unicode61')",
    "INSERT OR IGNORE INTO findings_meta (key, value) VALUES ('seq', '0')",
    "INSERT OR IGNORE INTO findings_meta (key, value) VALUES ('grader_version', '')",
)


def init_findings_db(engine: Engine) -> None:
    init_tables(engine, FindingRow, CitationRow, CommentRow, VoteRow, MetaRow, IdempotencyRow, ddl=_DDL)


def next_seq(session: Session) -> int:
    """Advance the change sequence (call inside `write_session`, which holds the write lock)."""
    session.execute(text("UPDATE findings_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'seq'"))
    return int(session.execute(text("SELECT value FROM findings_meta WHERE key = 'seq'")).scalar_one())


def current_seq(session: Session) -> int:
    return int(session.execute(text("SELECT value FROM findings_meta WHERE key = 'seq'")).scalar_one())


def get_meta(session: Session, key: str) -> str | None:
    row = session.get(MetaRow, key)
    return None if row is None else row.value


def set_meta(session: Session, key: str, value: str) -> None:
    row = session.get(MetaRow, key) or MetaRow(key=key, value=value)
    row.value = value
    session.add(row)
