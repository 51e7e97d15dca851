"""Read side and operator side: one submission, the leaderboard, private scoring and publication."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import select

from mcp_servers.core import Identity, read_session, write_session
from mcp_servers.grader._models import Leaderboard, LeaderboardEntry, SubmissionView, SubmitResult
from mcp_servers.grader._records import PrivateScoreRow, PublicationRow, SubmissionRow, decode_predictions
from mcp_servers.grader._scoring import score
from mcp_servers.grader._service import Grader, GraderError

_BOARD_COLUMNS = (SubmissionRow.id, SubmissionRow.agent, SubmissionRow.idea, SubmissionRow.seed,
                  SubmissionRow.reported_accuracy, SubmissionRow.reported_pgr, SubmissionRow.reported_id_accuracy,
                  SubmissionRow.reported_ood_accuracy, SubmissionRow.flags)


def get_submission(grader: Grader, who: Identity, submission_id: int) -> SubmissionView:
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


def _best_rows(grader: Grader, dataset: str) -> tuple[dict[tuple[str, str | None], list[tuple]], list[tuple]]:
    with read_session(grader.engine) as session:
        rows = session.exec(select(*_BOARD_COLUMNS).where(SubmissionRow.dataset == dataset)
                            .order_by(SubmissionRow.id)).all()  # type: ignore[arg-type]
    groups: dict[tuple[str, str | None], list[tuple]] = defaultdict(list)
    for row in rows:
        groups[(row[1], row[2])].append(tuple(row))
    best = [max(members, key=lambda r: (r[4], -r[0])) for members in groups.values()]
    return groups, best


def leaderboard(grader: Grader, dataset: str) -> Leaderboard:
    """Best per agent and idea, from the grader's own stored scores (reported values, never self-reports)."""
    grader.check_dataset(dataset)
    groups, best = _best_rows(grader, dataset)
    with read_session(grader.engine) as session:
        publication = session.exec(select(PublicationRow).where(PublicationRow.dataset == dataset)
                                   .order_by(PublicationRow.id.desc())).first()  # type: ignore[union-attr]
        private: dict[int, PrivateScoreRow] = {}
        if publication is not None:
            for p in session.exec(select(PrivateScoreRow).where(
                    PrivateScoreRow.scored_at <= publication.published_at).order_by(PrivateScoreRow.id)).all():
                private[p.submission_id] = p
    entries = []
    for row in best:
        members = groups[(row[1], row[2])]
        p = private.get(row[0])
        entries.append(LeaderboardEntry(
            agent=row[1], idea=row[2], best_submission_id=row[0], accuracy=row[4], pgr=row[5], id_accuracy=row[6],
            ood_accuracy=row[7], submissions=len(members), seeds=len({m[3] for m in members if m[3] is not None}),
            flagged=sum(1 for m in members if m[8] != "[]"), flags=json.loads(row[8]),
            private_accuracy=None if p is None else grader._round(p.accuracy),
            private_pgr=None if p is None or p.pgr is None else grader._round(p.pgr),
        ))
    entries.sort(key=lambda e: (-(e.private_accuracy if e.private_accuracy is not None else -1), -e.accuracy,
                                e.best_submission_id))
    cal = grader.calibration(dataset)
    return Leaderboard(
        dataset=dataset, weak_acc=None if cal is None else grader._round(cal.weak_acc),
        strong_acc=None if cal is None else grader._round(cal.strong_acc), entries=entries,
        published_at=None if publication is None else publication.published_at.replace(tzinfo=UTC),
        note="Best stored submission per agent and idea, scored by the grader on the public test part (Ladder-"
             "reported); private_* columns appear once the operator publishes the private part.",
    )


def score_private(grader: Grader, dataset: str, all_submissions: bool = False) -> list[PrivateScoreRow]:
    """Operator: score the private part of each agent/idea's best submission (or of all) and store it."""
    labels, mask = grader.test_labels(dataset)
    cal = grader.calibration(dataset)
    if all_submissions:
        with read_session(grader.engine) as session:
            ids = list(session.exec(select(SubmissionRow.id).where(SubmissionRow.dataset == dataset)).all())
    else:
        ids = [r[0] for r in _best_rows(grader, dataset)[1]]
    private = ~mask
    if not private.any():
        raise GraderError("the private part is empty", "set public_fraction below 1")
    out = []
    with write_session(grader.engine) as session:
        for sub_id in ids:
            row = session.get(SubmissionRow, sub_id)
            assert row is not None
            exact = score(decode_predictions(row.predictions), labels, cal, private)
            rec = PrivateScoreRow(
                submission_id=int(sub_id or 0), scored_at=datetime.now(UTC), accuracy=exact.overall.accuracy,
                pgr=exact.overall.pgr, id_accuracy=exact.id.accuracy if exact.id else None,
                ood_accuracy=exact.ood.accuracy if exact.ood else None, exact_json=exact.model_dump_json())
            session.add(rec)
            out.append(rec)
    return out


def publish(grader: Grader, dataset: str, out_dir: Path | None = None) -> Path:
    """Operator: record a publication (the leaderboard tool then shows private scores) and write it as JSON."""
    grader.check_dataset(dataset)
    now = datetime.now(UTC)
    folder = out_dir or grader.settings.state_dir / "grader_published"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{dataset}-{now.strftime('%Y%m%dT%H%M%S')}.json"
    with write_session(grader.engine) as session:
        session.add(PublicationRow(dataset=dataset, published_at=now, path=str(path)))
    board = leaderboard(grader, dataset)
    path.write_text(board.model_dump_json(indent=2) + "\n")
    return path

