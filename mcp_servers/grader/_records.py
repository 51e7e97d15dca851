"""The grader's database: append-only submissions, private scores, publications.

`grader_submission` refuses UPDATE and DELETE by trigger: the record of what an agent submitted and what the
grader answered cannot be rewritten, not even by the server. Private scores and publications are separate
append-only tables written by operator commands. Final selections (each agent's choice of the submissions
scored on the private half), the private scores a publication made visible, and re-openings of a closed
dataset are append-only too: a newer row supersedes an older one, none is edited.
"""

from __future__ import annotations

import hashlib
import zlib
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Engine, LargeBinary, UniqueConstraint, func
from sqlmodel import Column, Field, SQLModel, select

from mcp_servers.core import IdempotencyRecord, init_tables


class SubmissionRow(SQLModel, table=True):
    __tablename__ = "grader_submission"

    id: int | None = Field(default=None, primary_key=True)
    agent: str = Field(index=True)
    dataset: str = Field(index=True)
    created_at: datetime = Field(index=True)
    idea: str | None = None
    note: str | None = None
    seed: int | None = None
    kind: str
    n: int
    predictions: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    """zlib of float64 little-endian values."""
    predictions_sha256: str
    hard_bits: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    exact_json: str
    """Exact public-part scores (operator side only; never sent to agents)."""
    reported_accuracy: float
    reported_pgr: float | None = None
    reported_id_accuracy: float | None = None
    reported_ood_accuracy: float | None = None
    reported_json: str
    """The answer the agent got (rounded, after the Ladder)."""
    improved: bool
    flags: str = "[]"
    """JSON list of integrity flags."""


class IdempotencyRow(IdempotencyRecord, table=True):
    """The first answer to a submission sent with a client key, stored in the submission's own transaction: a
    retry with the key (say after a crash ate the answer) gets that answer again and stores nothing new. The
    request hashed is the dataset, predictions, idea, note and seed."""

    __tablename__ = "grader_idempotency"
    __table_args__ = (UniqueConstraint("agent", "key"),)

    submission_id: int = Field(foreign_key="grader_submission.id")


class PrivateScoreRow(SQLModel, table=True):
    __tablename__ = "grader_private_score"

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="grader_submission.id", index=True)
    scored_at: datetime
    accuracy: float
    pgr: float | None = None
    id_accuracy: float | None = None
    ood_accuracy: float | None = None
    exact_json: str


class FinalSelectionRow(SQLModel, table=True):
    """An agent's final submissions on a dataset (the latest row counts), as on Kaggle."""

    __tablename__ = "grader_final"

    id: int | None = Field(default=None, primary_key=True)
    agent: str = Field(index=True)
    dataset: str = Field(index=True)
    selected_at: datetime
    submission_ids: str
    """JSON list of submission ids."""


class PublishedScoreRow(SQLModel, table=True):
    """A private score a publication made visible: the only private numbers anyone outside the operator sees."""

    __tablename__ = "grader_published_score"

    id: int | None = Field(default=None, primary_key=True)
    publication_id: int = Field(foreign_key="grader_publication.id", index=True)
    submission_id: int = Field(foreign_key="grader_submission.id", index=True)
    accuracy: float
    pgr: float | None = None
    id_accuracy: float | None = None
    ood_accuracy: float | None = None


class ReopenRow(SQLModel, table=True):
    """The operator re-opened a published (closed) dataset for a new run."""

    __tablename__ = "grader_reopen"

    id: int | None = Field(default=None, primary_key=True)
    dataset: str = Field(index=True)
    reopened_at: datetime


class PublicationRow(SQLModel, table=True):
    __tablename__ = "grader_publication"

    id: int | None = Field(default=None, primary_key=True)
    dataset: str = Field(index=True)
    published_at: datetime
    path: str


_APPEND_ONLY = tuple(
    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
    for table in ("grader_submission", "grader_private_score", "grader_publication", "grader_final",
                  "grader_published_score", "grader_reopen", "grader_idempotency")
    for op in ("UPDATE", "DELETE")
)


def init_grader_db(engine: Engine) -> None:
    init_tables(engine, SubmissionRow, PrivateScoreRow, PublicationRow, FinalSelectionRow, PublishedScoreRow,
                ReopenRow, IdempotencyRow, ddl=(
        *_APPEND_ONLY,
        "CREATE INDEX IF NOT EXISTS grader_submission_agent_dataset ON grader_submission (agent, dataset, id)",
    ))


def encode_predictions(values: np.ndarray) -> tuple[bytes, str]:
    raw = values.astype("<f8").tobytes()
    return zlib.compress(raw, 1), hashlib.sha256(raw).hexdigest()


def decode_predictions(blob: bytes) -> np.ndarray:
    return np.frombuffer(zlib.decompress(blob), dtype="<f8")


def closed_at(session: Any, dataset: str) -> datetime | None:
    """When the dataset's run was closed (its latest publication, unless re-opened since); None while open."""
    published = session.exec(select(func.max(PublicationRow.published_at)).where(
        PublicationRow.dataset == dataset)).one()
    if published is None:
        return None
    reopened = session.exec(select(func.max(ReopenRow.reopened_at)).where(ReopenRow.dataset == dataset)).one()
    return published if reopened is None or reopened < published else None
