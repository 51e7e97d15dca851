"""The findings store's read side: one finding, search (FTS5 + bm25, filters, pages), and the export since a cursor
the workspace syncer follows; every view carries its comments, votes and the grader's scores of its citations."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, text
from sqlmodel import select

from mcp_servers.core import read_session
from mcp_servers.findings._clean import finite_or_none, stored_json
from mcp_servers.findings._grader_link import GraderLink, GraderUnavailable
from mcp_servers.findings._models import (
    CommentView,
    FindingSummary,
    FindingView,
    SearchPage,
    SyncPage,
    VoteTally,
    VoteView,
)
from mcp_servers.findings._records import FTS_WEIGHTS, CitationRow, CommentRow, FindingRow, VoteRow, current_seq
from mcp_servers.findings._vocab import FindingsError, FindingsSettings, canonical_family, check_type, fts_query


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class FindingsReads:
    """Reads of the findings store over one engine, with read-only access to the grader's submissions."""

    settings: FindingsSettings
    engine: Engine
    grader: GraderLink

    def read(self, finding_id: int) -> FindingView:
        views = self.views([finding_id])
        if not views:
            raise FindingsError(f"no finding {finding_id}", "send an id from search_findings or shared_findings/")
        return views[0]

    def search(self, query: str = "", family: str | None = None, finding_type: str | None = None,
               agent: str | None = None, min_pgr: float | None = None, since: datetime | None = None,
               offset: int = 0, limit: int = 10) -> SearchPage:
        limit = max(1, min(limit, self.settings.max_page))
        where, params = ["1 = 1"], {"limit": limit, "offset": max(0, offset)}
        if family:
            where.append("f.method_family = :family")
            params["family"] = canonical_family(family)
        if finding_type:
            where.append("f.finding_type = :ftype")
            params["ftype"] = check_type(finding_type)
        if agent:
            where.append("f.agent = :agent")
            params["agent"] = agent
        if min_pgr is not None and not math.isfinite(min_pgr):
            raise FindingsError(f"min_pgr {min_pgr} is not a finite number", "send a number such as 0.2")
        if min_pgr is not None:
            where.append("f.best_pgr >= :min_pgr")
            params["min_pgr"] = min_pgr
        if since is not None:
            where.append("f.created_at >= :since")
            params["since"] = _utc(since).astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
        match = fts_query(query)
        weights = ", ".join(str(w) for w in FTS_WEIGHTS)
        if match:
            params["match"] = match
            source = "findings_fts JOIN findings_finding f ON f.id = findings_fts.rowid"
            where.append("findings_fts MATCH :match")
            select_rank, order = f"bm25(findings_fts, {weights})", "rank, f.id DESC"
        else:
            source, select_rank, order = "findings_finding f", "NULL", "f.id DESC"
        clause = " AND ".join(where)
        with read_session(self.engine) as session:
            total = int(session.execute(text(f"SELECT COUNT(*) FROM {source} WHERE {clause}"), params).scalar_one())
            hits = session.execute(text(f"SELECT f.id, {select_rank} AS rank FROM {source} WHERE {clause} "
                                        f"ORDER BY {order} LIMIT :limit OFFSET :offset"), params).all()
            ids = [int(h[0]) for h in hits]
            rows = {r.id: r for r in session.exec(select(FindingRow).where(FindingRow.id.in_(ids))).all()}  # type: ignore[union-attr]
            tallies = self._tallies(session, ids)
            counts = self._comment_counts(session, ids)
        items = [FindingSummary(
            id=fid, title=rows[fid].title, summary=rows[fid].summary, agent=rows[fid].agent,
            finding_type=rows[fid].finding_type, method_family=rows[fid].method_family, idea=rows[fid].idea,
            tags=stored_json(rows[fid].tags_json, []), created_at=_utc(rows[fid].created_at),
            best_pgr=finite_or_none(rows[fid].best_pgr),
            vote_score=tallies[fid].score, comments=counts.get(fid, 0),
            rank=None if rank is None else round(float(rank), 4)) for fid, rank in ((int(h[0]), h[1]) for h in hits)]
        end = params["offset"] + len(items)
        return SearchPage(total=total, offset=params["offset"], limit=limit, items=items,
                          next_offset=end if end < total else None)

    def max_seq(self) -> int:
        with read_session(self.engine) as session:
            return current_seq(session)

    def export_since(self, cursor: int = 0, limit: int | None = None) -> SyncPage:
        """Findings whose last change is after `cursor`, oldest change first (a page never splits one change)."""
        limit = max(1, min(limit or self.settings.max_page, self.settings.max_page))
        with read_session(self.engine) as session:
            rows = [(int(r[0]), int(r[1])) for r in session.exec(
                select(FindingRow.id, FindingRow.seq).where(FindingRow.seq > cursor)
                .order_by(FindingRow.seq, FindingRow.id).limit(limit + 1)).all()]  # type: ignore[arg-type]
            page = rows[:limit]
            if len(rows) > limit and rows[limit][1] == page[-1][1]:
                last = page[-1][1]
                page = [r for r in page if r[1] < last] or [
                    (int(i), last) for i in session.exec(select(FindingRow.id).where(FindingRow.seq == last)).all()]
            new_cursor = max((seq for _, seq in page), default=cursor)
            more = session.exec(select(FindingRow.id).where(FindingRow.seq > new_cursor).limit(1)).first() is not None
        return SyncPage(cursor=new_cursor, more=more, findings=self.views([fid for fid, _ in page]))

    def views(self, ids: Sequence[int]) -> list[FindingView]:
        """Full views of the findings among `ids` that exist, in the order given."""
        ids = list(dict.fromkeys(int(i) for i in ids))
        if not ids:
            return []
        with read_session(self.engine) as session:
            rows = {r.id: r for r in session.exec(select(FindingRow).where(FindingRow.id.in_(ids))).all()}  # type: ignore[union-attr]
            cites: dict[int, list[int]] = {}
            for c in session.exec(select(CitationRow).where(CitationRow.finding_id.in_(ids))  # type: ignore[attr-defined]
                                  .order_by(CitationRow.id)).all():
                cites.setdefault(c.finding_id, []).append(c.submission_id)
            comments: dict[int, list[CommentView]] = {}
            for c in session.exec(select(CommentRow).where(CommentRow.finding_id.in_(ids))  # type: ignore[attr-defined]
                                  .order_by(CommentRow.id)).all():
                comments.setdefault(c.finding_id, []).append(
                    CommentView(id=int(c.id or 0), agent=c.agent, body=c.body, created_at=_utc(c.created_at)))
            tallies = self._tallies(session, ids)
        try:
            scores = self.grader.submissions(s for subs in cites.values() for s in subs)
        except GraderUnavailable:
            scores = {}
        return [FindingView(
            id=fid, title=r.title, summary=r.summary, body=r.body, agent=r.agent, finding_type=r.finding_type,
            method_family=r.method_family, idea=r.idea, tags=stored_json(r.tags_json, []),
            config=stored_json(r.config_json, {}), created_at=_utc(r.created_at), updated_at=_utc(r.updated_at),
            seq=r.seq, best_pgr=finite_or_none(r.best_pgr),
            submissions=[scores[s] for s in cites.get(fid, []) if s in scores], comments=comments.get(fid, []),
            votes=tallies[fid]) for fid in ids if (r := rows.get(fid)) is not None]

    @staticmethod
    def _tallies(session: Any, ids: Sequence[int]) -> dict[int, VoteTally]:
        out = {fid: VoteTally() for fid in ids}
        for v in session.exec(select(VoteRow).where(VoteRow.finding_id.in_(ids))  # type: ignore[attr-defined]
                              .order_by(VoteRow.agent)).all():
            tally = out[v.finding_id]
            tally.votes.append(VoteView(agent=v.agent, value=v.value))
            tally.up += v.value > 0
            tally.down += v.value < 0
            tally.score += v.value
        return out

    @staticmethod
    def _comment_counts(session: Any, ids: Sequence[int]) -> dict[int, int]:
        rows = session.exec(select(CommentRow.finding_id, func.count()).where(
            CommentRow.finding_id.in_(ids)).group_by(CommentRow.finding_id)).all()  # type: ignore[attr-defined]
        return {int(f): int(n) for f, n in rows}
