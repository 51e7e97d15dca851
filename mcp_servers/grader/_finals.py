"""Final selections, as on Kaggle: each agent marks at most a few submissions per dataset as final (default: its
best public one); only those are ever scored on the private part, and only when the operator publishes.

The private part therefore answers nothing an agent can query repeatedly: private scores exist for final
selections only, and once a dataset is published its run is closed (no more submissions or selections) until
the operator re-opens it for a new run.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlmodel import select

from mcp_servers.core import Identity, read_session, write_session
from mcp_servers.grader._models import FinalSelection
from mcp_servers.grader._records import FinalSelectionRow, ReopenRow, SubmissionRow, closed_at
from mcp_servers.grader._service import MAX_INT, Grader, GraderError


def best_public(session: Any, agent: str, dataset: str) -> int | None:
    """The submission holding the agent's best Ladder-reported accuracy (the latest new best)."""
    row = session.exec(
        select(SubmissionRow.id).where(SubmissionRow.agent == agent, SubmissionRow.dataset == dataset,
                                       SubmissionRow.improved)
        .order_by(SubmissionRow.reported_accuracy.desc(), SubmissionRow.id.desc()).limit(1)  # type: ignore[attr-defined]
    ).first()
    return None if row is None else int(row)


def finals_of(session: Any, agent: str, dataset: str) -> tuple[list[int], bool]:
    """(final submission ids, chosen by default) of an agent on a dataset."""
    latest = session.exec(
        select(FinalSelectionRow.submission_ids).where(FinalSelectionRow.agent == agent,
                                                       FinalSelectionRow.dataset == dataset)
        .order_by(FinalSelectionRow.id.desc()).limit(1)  # type: ignore[union-attr]
    ).first()
    if latest is not None:
        return [int(i) for i in json.loads(latest)], False
    best = best_public(session, agent, dataset)
    return ([] if best is None else [best]), True


def all_finals(session: Any, dataset: str) -> dict[str, tuple[list[int], bool]]:
    """Every agent with submissions on the dataset -> (final ids, chosen by default)."""
    agents = session.exec(select(SubmissionRow.agent).where(SubmissionRow.dataset == dataset).distinct()).all()
    return {agent: finals_of(session, agent, dataset) for agent in sorted(agents)}


def _view(grader: Grader, agent: str, dataset: str, ids: list[int], default: bool, closed: bool) -> FinalSelection:
    limit = grader.settings.final_selections
    note = ("Only final submissions are scored on the private part, when the operator publishes. "
            + ("None marked: your best public submission is final. " if default else "")
            + ("The run on this dataset is closed." if closed else
               f"Mark up to {limit} with select_final_submissions; the latest selection counts."))
    return FinalSelection(dataset=dataset, agent=agent, submission_ids=ids, default=default, max_final=limit,
                          closed=closed, note=note)


def final_selection(grader: Grader, who: Identity, dataset: str) -> FinalSelection:
    grader.check_dataset(dataset)
    with read_session(grader.engine) as session:
        ids, default = finals_of(session, who.agent, dataset)
        closed = closed_at(session, dataset) is not None
    return _view(grader, who.agent, dataset, ids, default, closed)


def select_final(grader: Grader, who: Identity, dataset: str, submission_ids: list[int]) -> FinalSelection:
    """Mark the caller's final submissions on a dataset (replaces the previous selection)."""
    grader.check_dataset(dataset)
    limit = grader.settings.final_selections
    ids = list(dict.fromkeys(int(i) for i in submission_ids))
    if not 1 <= len(ids) <= limit:
        raise GraderError(f"{len(ids)} final submissions given", f"mark between 1 and {limit} of your submissions")
    bad = [i for i in ids if not 1 <= i <= MAX_INT]
    if bad:
        raise GraderError(f"submission id {bad[0]} is out of range", f"send ids between 1 and {MAX_INT}")
    with write_session(grader.engine) as session:
        if closed_at(session, dataset) is not None:
            raise GraderError(f"the run on {dataset} is closed: private scores were published",
                              "final selections can no longer change")
        owned = set(session.exec(select(SubmissionRow.id).where(
            SubmissionRow.id.in_(ids), SubmissionRow.agent == who.agent,  # type: ignore[union-attr]
            SubmissionRow.dataset == dataset)).all())
        missing = [i for i in ids if i not in owned]
        if missing:
            raise GraderError(f"no submission {missing[0]} of yours on {dataset}",
                              "send ids that submit_predictions answered you for this dataset")
        session.add(FinalSelectionRow(agent=who.agent, dataset=dataset, selected_at=datetime.now(UTC),
                                      submission_ids=json.dumps(ids)))
    return _view(grader, who.agent, dataset, ids, False, False)


def reopen(grader: Grader, dataset: str) -> bool:
    """Operator: open a closed (published) dataset for a new run; False when it was not closed."""
    grader.check_dataset(dataset)
    with write_session(grader.engine) as session:
        if closed_at(session, dataset) is None:
            return False
        session.add(ReopenRow(dataset=dataset, reopened_at=datetime.now(UTC)))
    return True
