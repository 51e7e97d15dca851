"""Pydantic models at the findings server's tool boundary (tool parameters are the inputs; these the answers)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from mcp_servers.findings._grader_link import GraderScore

MAX_ID = 2**63 - 1
"""The largest integer SQLite stores: the core's ArgumentErrors refuses anything above it for every tool, and the input
schemas say so (`maximum`), so a client can read the range from tools/list."""

FINDING_TYPES: tuple[str, ...] = ("result", "hypothesis", "insight", "negative", "error")
"""`result` must cite at least one of the author's own grader submissions."""


class CommentView(BaseModel):
    id: int
    agent: str
    body: str
    created_at: datetime


class VoteView(BaseModel):
    agent: str
    value: int = Field(description="+1 or -1")


class VoteTally(BaseModel):
    up: int = 0
    down: int = 0
    score: int = 0
    votes: list[VoteView] = Field(default_factory=list)


class FindingSummary(BaseModel):
    """A search hit: enough to decide whether to read the finding."""

    id: int
    title: str
    summary: str
    agent: str
    finding_type: str
    method_family: str
    idea: str
    tags: list[str]
    created_at: datetime
    best_pgr: float | None = Field(default=None, description="best grader-reported PGR of the cited submissions")
    vote_score: int = 0
    comments: int = 0
    rank: float | None = Field(default=None, description="bm25 relevance (lower is better); null without query")


class FindingView(BaseModel):
    """A whole finding: the author's text, the grader's scores of its citations, comments and votes."""

    id: int
    title: str
    summary: str
    body: str
    agent: str
    finding_type: str
    method_family: str
    idea: str
    tags: list[str]
    config: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    seq: int = Field(description="change sequence of this finding's last change")
    best_pgr: float | None = None
    submissions: list[GraderScore] = Field(
        default_factory=list, description="cited submissions as the grader scored them (never the agent's numbers)")
    comments: list[CommentView] = Field(default_factory=list)
    votes: VoteTally = Field(default_factory=VoteTally)


class SearchPage(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[FindingSummary]
    next_offset: int | None = Field(default=None, description="pass as offset for the next page; null at the end")


class PostResult(BaseModel):
    finding_id: int
    seq: int
    best_pgr: float | None = None
    submissions: list[GraderScore] = Field(default_factory=list)
    note: str


class CommentResult(BaseModel):
    finding_id: int
    comment: CommentView
    comments: int


class VoteResult(BaseModel):
    finding_id: int
    your_vote: int
    votes: VoteTally


class SyncPage(BaseModel):
    """Findings changed after a cursor (new, commented, voted on, or re-scored by the grader)."""

    cursor: int = Field(description="pass back as `cursor` next time; you have everything up to it")
    more: bool = Field(description="true when more changes wait: call again at once with the new cursor")
    findings: list[FindingView]
