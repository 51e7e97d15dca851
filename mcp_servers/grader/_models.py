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
    replayed: bool = Field(False, description="true: this repeats the answer to an earlier call with the same "
                                              "idempotency_key; nothing new was stored or counted")


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
    climb_flagged: int = Field(0, description="submissions of this agent and idea flagged as part of a climb")
    agent_submissions: int = Field(0, description="all of the agent's submissions up to this one (any idea): how "
                                                  "many tries led to this number")
    agent_improvements: int = Field(0, description="of those, how many the Ladder reported as a new best")
    final: bool = Field(False, description="one of the agent's final submissions")
    private_accuracy: float | None = Field(default=None, description="published private-part accuracy (final "
                                                                     "submissions only)")
    private_pgr: float | None = None


class Leaderboard(BaseModel):
    dataset: str
    weak_acc: float | None
    strong_acc: float | None
    entries: list[LeaderboardEntry]
    agents: list[AgentSummary] = Field(default_factory=list, description="per agent: tries, improvements, "
                                                                           "flags, finals and public-private gap")
    closed: bool = Field(False, description="the run is closed: private scores published, submissions refused")
    published_at: datetime | None = Field(default=None, description="when private scores were last published")
    note: str


class FinalSelection(BaseModel):
    """An agent's final submissions on a dataset: the only ones ever scored on the private part."""

    dataset: str
    agent: str
    submission_ids: list[int]
    default: bool = Field(description="true: none marked, so your best public submission counts")
    max_final: int = Field(description="how many final submissions you may mark on a dataset")
    closed: bool = Field(description="the run on this dataset is closed (private scores published)")
    note: str


class AgentSummary(BaseModel):
    """One agent on one dataset: how its best public number came about and, once published, how it held up."""

    agent: str
    submissions: int = Field(description="all of this agent's submissions on the dataset")
    improvements: int = Field(description="submissions the Ladder reported as a new best")
    flagged: int = Field(description="submissions carrying any integrity flag")
    climb_flagged: int = Field(description="submissions flagged as part of a climb")
    best_submission_id: int
    accuracy: float = Field(description="best public accuracy (Ladder-reported)")
    pgr: float | None = None
    final_submission_ids: list[int] = Field(default_factory=list)
    final_default: bool = Field(True, description="no explicit selection: the best public submission is final")
    private_accuracy: float | None = Field(default=None, description="best published private accuracy of the "
                                                                     "final submissions")
    private_pgr: float | None = None
    gap_accuracy: float | None = Field(default=None, description="public best minus private: a climbed or "
                                                                 "overfitted number shows a large gap")
    gap_pgr: float | None = None


Leaderboard.model_rebuild()
