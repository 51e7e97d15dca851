"""Read side and operator side: one submission, the leaderboard, private scoring and publication.

Every score shown here goes through `visible_scores` (the score an agent may see): public numbers as the agent
was answered, private numbers only for final selections a publication made visible.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from sqlmodel import select

from mcp_servers.core import Identity, read_session, write_session
from mcp_servers.grader._climb import is_climb_flag
from mcp_servers.grader._finals import all_finals
from mcp_servers.grader._models import AgentSummary, Leaderboard, LeaderboardEntry, SubmissionView, SubmitResult
from mcp_servers.grader._records import (
    PrivateScoreRow,
    PublicationRow,
    PublishedScoreRow,
    SubmissionRow,
    closed_at,
    decode_predictions,
)
from mcp_servers.grader._scoring import score
from mcp_servers.grader._service import MAX_INT, Grader, GraderError
from mcp_servers.grader._visible import VisibleScore, visible_scores

_BOARD_COLUMNS = (SubmissionRow.id, SubmissionRow.agent, SubmissionRow.idea, SubmissionRow.seed,
                  SubmissionRow.reported_accuracy, SubmissionRow.reported_pgr, SubmissionRow.reported_id_accuracy,
                  SubmissionRow.reported_ood_accuracy, SubmissionRow.flags, SubmissionRow.improved)


class _BoardRow(NamedTuple):
    """One submission as the leaderboard reads it, field for field with `_BOARD_COLUMNS`."""

    id: int
    agent: str
    idea: str | None
    seed: int | None
    accuracy: float
    pgr: float | None
    id_accuracy: float | None
    ood_accuracy: float | None
    flags: str
    improved: bool


def get_submission(grader: Grader, who: Identity, submission_id: int) -> SubmissionView:
    if not 1 <= submission_id <= MAX_INT:
        raise GraderError(f"submission id {submission_id} is out of range",
                          f"send an id between 1 and {MAX_INT}, as submit_predictions answered it")
    with read_session(grader.engine) as session:
        row = session.get(SubmissionRow, submission_id)
    if row is None or (row.agent != who.agent and not who.is_admin):
        raise GraderError(f"no submission {submission_id} of yours",
                          "send the id that submit_predictions answered you (the leaderboard shows everyone's best)")
    reported = SubmitResult.model_validate({**json.loads(row.reported_json), "submission_id": row.id})
    return SubmissionView(submission_id=int(row.id or 0), agent=row.agent, dataset=row.dataset,
                          created_at=row.created_at.replace(tzinfo=UTC), idea=row.idea, note=row.note, seed=row.seed,
                          kind=row.kind, predictions_sha256=row.predictions_sha256, reported=reported,
                          flags=json.loads(row.flags))


def _visible(grader: Grader, ids: list[int]) -> dict[int, VisibleScore]:
    raw = grader.engine.raw_connection()
    try:
        return visible_scores(raw, ids, grader.settings.decimals)
    finally:
        raw.close()


def _summary(grader: Grader, agent: str, rows: list[_BoardRow], finals: tuple[list[int], bool],
             seen: dict[int, VisibleScore]) -> AgentSummary:
    best = max((r for r in rows if r.improved), key=lambda r: (r.accuracy, r.id), default=rows[0])
    published = [seen[i] for i in finals[0] if i in seen and seen[i].private_accuracy is not None]
    top = max(published, key=lambda v: (v.private_accuracy, -v.submission_id), default=None)

    def gap(public: float | None, private: float | None) -> float | None:
        return None if public is None or private is None else grader.round_score(public - private)

    return AgentSummary(
        agent=agent, submissions=len(rows), improvements=sum(1 for r in rows if r.improved),
        flagged=sum(1 for r in rows if r.flags != "[]"),
        climb_flagged=sum(1 for r in rows if any(is_climb_flag(f) for f in json.loads(r.flags))),
        best_submission_id=best.id, accuracy=best.accuracy, pgr=best.pgr, final_submission_ids=finals[0],
        final_default=finals[1], private_accuracy=None if top is None else top.private_accuracy,
        private_pgr=None if top is None else top.private_pgr,
        gap_accuracy=gap(best.accuracy, None if top is None else top.private_accuracy),
        gap_pgr=gap(best.pgr, None if top is None else top.private_pgr))


def leaderboard(grader: Grader, dataset: str) -> Leaderboard:
    """Best per agent and idea, from the grader's own stored scores (reported values, never self-reports)."""
    grader.check_dataset(dataset)
    with read_session(grader.engine) as session:
        rows = [_BoardRow(*r) for r in session.exec(select(*_BOARD_COLUMNS).where(SubmissionRow.dataset == dataset)
                                               .order_by(SubmissionRow.id)).all()]  # type: ignore[arg-type]
        finals = all_finals(session, dataset)
        closed = closed_at(session, dataset)
        published_at = session.exec(select(PublicationRow.published_at).where(PublicationRow.dataset == dataset)
                                    .order_by(PublicationRow.id.desc())).first()  # type: ignore[union-attr]
    groups: dict[tuple[str, str | None], list[_BoardRow]] = defaultdict(list)
    per_agent: dict[str, list[_BoardRow]] = defaultdict(list)
    for row in rows:
        groups[(row.agent, row.idea)].append(row)
        per_agent[row.agent].append(row)
    best = {key: max(members, key=lambda r: (r.accuracy, -r.id)) for key, members in groups.items()}
    final_ids = {i for ids, _ in finals.values() for i in ids}
    seen = _visible(grader, [r.id for r in best.values()] + sorted(final_ids))
    entries = []
    for (agent, _), row in best.items():
        members, history = groups[(agent, row.idea)], [r for r in per_agent[agent] if r.id <= row.id]
        v = seen.get(row.id)
        entries.append(LeaderboardEntry(
            agent=agent, idea=row.idea, best_submission_id=row.id, accuracy=row.accuracy, pgr=row.pgr,
            id_accuracy=row.id_accuracy, ood_accuracy=row.ood_accuracy, submissions=len(members), seeds=len({m.seed for m in members if m.seed is not None}),
            flagged=sum(1 for m in members if m.flags != "[]"), flags=json.loads(row.flags),
            climb_flagged=sum(1 for m in members if any(is_climb_flag(f) for f in json.loads(m.flags))),
            agent_submissions=len(history), agent_improvements=sum(1 for r in history if r.improved),
            final=row.id in final_ids, private_accuracy=None if v is None else v.private_accuracy,
            private_pgr=None if v is None else v.private_pgr,
        ))
    entries.sort(key=lambda e: (-(e.private_accuracy if e.private_accuracy is not None else -1), -e.accuracy,
                                e.best_submission_id))
    agents = [_summary(grader, agent, per_agent[agent], finals.get(agent, ([], True)), seen)
              for agent in sorted(per_agent)]
    cal = grader.calibration(dataset)
    return Leaderboard(
        dataset=dataset, weak_acc=None if cal is None else grader.round_score(cal.weak_acc),
        strong_acc=None if cal is None else grader.round_score(cal.strong_acc), entries=entries, agents=agents,
        closed=closed is not None,
        published_at=None if published_at is None else published_at.replace(tzinfo=UTC),
        note="Best stored submission per agent and idea, scored by the grader on the public test part (Ladder-"
             "reported), with how many submissions and Ladder improvements of the agent led to it. Private "
             "scores appear for final submissions only, once the operator publishes (which closes the run); "
             "agents[] gives each agent's public-minus-private gap.",
    )


def _score_finals(grader: Grader, session: object, dataset: str) -> list[PrivateScoreRow]:
    labels, mask = grader.test_labels(dataset)
    private = ~mask
    if not private.any():
        raise GraderError("the private part is empty", "set public_fraction below 1")
    cal = grader.calibration(dataset)
    out = []
    for ids, _ in all_finals(session, dataset).values():
        for sub_id in ids:
            row = session.get(SubmissionRow, sub_id)  # type: ignore[attr-defined]
            assert row is not None
            exact = score(decode_predictions(row.predictions), labels, cal, private)
            rec = PrivateScoreRow(
                submission_id=sub_id, scored_at=datetime.now(UTC), accuracy=exact.overall.accuracy,
                pgr=exact.overall.pgr, id_accuracy=exact.id.accuracy if exact.id else None,
                ood_accuracy=exact.ood.accuracy if exact.ood else None, exact_json=exact.model_dump_json())
            session.add(rec)  # type: ignore[attr-defined]
            out.append(rec)
    return out


def score_private(grader: Grader, dataset: str) -> list[PrivateScoreRow]:
    """Operator preview: score the private part of every agent's final submissions (shown to nobody else)."""
    grader.check_dataset(dataset)
    with write_session(grader.engine) as session:
        return _score_finals(grader, session, dataset)


def publish(grader: Grader, dataset: str, out_dir: Path | None = None) -> Path:
    """Operator: score the final submissions' private part, make those scores visible and close the run.

    After this the leaderboard shows private scores of final submissions (no other submission ever has one),
    submissions and final selections on the dataset are refused until `reopen`, and a JSON copy is written.
    """
    grader.check_dataset(dataset)
    now = datetime.now(UTC)
    folder = out_dir or grader.settings.state_dir / "grader_published"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{dataset}-{now.strftime('%Y%m%dT%H%M%S')}.json"
    with write_session(grader.engine) as session:
        scored = _score_finals(grader, session, dataset)
        publication = PublicationRow(dataset=dataset, published_at=now, path=str(path))
        session.add(publication)
        session.flush()
        for rec in scored:
            session.add(PublishedScoreRow(publication_id=int(publication.id or 0), submission_id=rec.submission_id,
                                          accuracy=rec.accuracy, pgr=rec.pgr, id_accuracy=rec.id_accuracy,
                                          ood_accuracy=rec.ood_accuracy))
    board = leaderboard(grader, dataset)
    path.write_text(board.model_dump_json(indent=2) + "\n")
    return path
