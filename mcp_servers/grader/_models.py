"""Pydantic models at the grader's tool boundary (inputs are tool parameters; these are the answers)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class DatasetInfo(BaseModel):
    name: str
    task: str = Field(description="preference (predict P(second answer better)) or binary (P(choice correct))")
    sizes: dict[str, int] = Field(description="rows per hidden split")
    scored_rows: int = Field(description="test rows that count for agents (the public part); submit one "
                                         "prediction for every test row anyway")
    weak_acc: float | None = None
    strong_acc: float | None = None
    calibration_note: str | None = None


class PartReport(BaseModel):
    """Scores of one part of the public test rows, as the agent may see them."""

    accuracy: float
    pgr: float | None
    pgr_note: str | None = None
    improved: bool = Field(description="true when this is a new best (Ladder); false repeats your best")


class SubmitResult(BaseModel):
    submission_id: int
    agent: str
    dataset: str
    kind: str = Field(description="hard (0/1) or probabilities")
    overall: PartReport
    id: PartReport | None = Field(default=None, description="in-distribution subsets (id_*)")
    ood: PartReport | None = Field(default=None, description="out-of-distribution subsets (ood_*)")
    note: str = Field(description="how to read these numbers")
    flags: list[str] = Field(default_factory=list)
    submissions_used: int
    submissions_left: int | None = None


class SubmissionView(BaseModel):
    submission_id: int
    agent: str
    dataset: str
    created_at: datetime
    idea: str | None
    note: str | None
    seed: int | None
    kind: str
    predictions_sha256: str
    reported: SubmitResult
    flags: list[str]


class LeaderboardEntry(BaseModel):
    agent: str
    idea: str | None
    best_submission_id: int
    accuracy: float
    pgr: float | None
    id_accuracy: float | None = None
    ood_accuracy: float | None = None
    submissions: int
    seeds: int = Field(description="distinct seeds declared across those submissions")
    flagged: int = Field(description="submissions of this agent and idea carrying integrity flags")
    flags: list[str] = Field(default_factory=list, description="flags of the best submission")
    private_accuracy: float | None = Field(default=None, description="published private-part accuracy")
    private_pgr: float | None = None


class Leaderboard(BaseModel):
    dataset: str
    weak_acc: float | None
    strong_acc: float | None
    entries: list[LeaderboardEntry]
    published_at: datetime | None = Field(default=None, description="when private scores were last published")
    note: str
