"""The findings logic, independent of MCP: post, search (FTS5 + bm25), read, comment, vote, export since a cursor.

`FindingsService` is what the tools call; the workspace syncer and tests call it directly too.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import SettingsConfigDict
from sqlalchemy import Engine, func, text
from sqlmodel import select

from mcp_servers.core import (
    IdempotencyKeys,
    Identity,
    RefusedError,
    ServerSettings,
    TokenStore,
    read_session,
    request_sha256,
    write_session,
)
from mcp_servers.findings._clean import finite_or_none, non_finite_path, secret_in, stored_json
from mcp_servers.findings._grader_link import GraderLink, GraderScore, GraderUnavailable
from mcp_servers.findings._models import (
    FINDING_TYPES,
    CommentResult,
    CommentView,
    FindingSummary,
    FindingView,
    PostResult,
    SearchPage,
    SyncPage,
    VoteResult,
    VoteTally,
    VoteView,
)
from mcp_servers.findings._records import (
    FTS_WEIGHTS,
    CitationRow,
    CommentRow,
    FindingRow,
    IdempotencyRow,
    VoteRow,
    current_seq,
    get_meta,
    init_findings_db,
    next_seq,
    set_meta,
)
from prompts import method_families


class FindingsError(RefusedError):
    """A refused request of the findings server."""


class FindingsSettings(ServerSettings):
    """Findings keys: `W2S_FINDINGS_<KEY>` or the `[findings]` table of the settings file."""

    model_config = SettingsConfigDict(env_prefix="W2S_FINDINGS_", extra="ignore", populate_by_name=True)
    config_section = "findings"

    grader_db: Path | None = Field(None, description="the grader's database (default <state_dir>/grader.db)")
    max_body_chars: int = Field(100_000, ge=100)
    max_comment_chars: int = Field(10_000, ge=10)
    max_config_chars: int = Field(20_000, ge=2)
    max_page: int = Field(50, ge=1, le=500, description="largest search / sync page")

    @property
    def grader_db_path(self) -> Path:
        return self.grader_db or self.db_path("grader")


def _key(text_: str) -> str:
    return re.sub(r"[\s_-]+", " ", text_.strip().lower())


def canonical_family(value: str) -> str:
    """The method family `value` names (case, '-', '_' and spaces ignored), or FindingsError listing them all."""
    families = method_families()
    for family in families:
        if _key(family) == _key(value):
            return family
    raise FindingsError(f"unknown method_family {value!r}", f"send one of: {', '.join(families)}")


def check_type(value: str) -> str:
    if value.strip().lower() not in FINDING_TYPES:
        raise FindingsError(f"unknown finding_type {value!r}", f"send one of: {', '.join(FINDING_TYPES)}")
    return value.strip().lower()


def fts_query(query: str) -> str | None:
    """Free text -> an FTS5 MATCH expression (quoted terms OR-ed: bm25 ranks documents matching more terms)."""
    terms = list(dict.fromkeys(re.findall(r"\w+", query.lower())))[:32]
    return " OR ".join(f'"{t}"' for t in terms) or None


_KEYS = IdempotencyKeys(
    IdempotencyRow, "finding_id", FindingsError,
    key_fix="send a fresh uuid4 per new finding, and the same one when retrying it",
    used_for="another finding ({ref})",
    reuse_fix="send a new key for a new finding; reuse a key only to retry the same call")


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class FindingsService:
    """The findings store over one engine, with read-only access to the grader's submissions."""

    def __init__(self, settings: FindingsSettings, engine: Engine, grader: GraderLink | None = None,
                 tokens: TokenStore | None = None) -> None:
        self.settings, self.engine = settings, engine
        self.grader = grader or GraderLink(settings.grader_db_path)
        self._tokens = tokens
        init_findings_db(engine)
        with write_session(engine) as session:  # a new db starts at the grader's current version
            if get_meta(session, "grader_version") == "":
                set_meta(session, "grader_version", self.grader.version())

    # -- writes -----------------------------------------------------------------------------------------------
    def _refuse_secrets(self, **fields: str) -> None:
        if self._tokens is None:  # opened on first write: the syncer's service never needs it
            self._tokens = TokenStore(self.settings.tokens_db)
        found = secret_in(fields, self._tokens)
        if found:
            raise FindingsError(f"the {found[0]} carries {found[1]}; nothing was stored",
                                "never post a token or key: every agent reads every finding and comment")

    def post(self, who: Identity, title: str, summary: str, body: str, finding_type: str, idea: str,
             method_family: str, submission_ids: Sequence[int] = (), config: dict[str, Any] | None = None,
             tags: Sequence[str] = (), idempotency_key: str | None = None) -> PostResult:
        """Store a finding. With `idempotency_key`, a retry (same agent, key and arguments) answers the first
        result and stores nothing; the same key with other arguments is refused."""
        request = request_sha256({"title": title, "summary": summary, "body": body, "finding_type": finding_type,
                                  "idea": idea, "method_family": method_family,
                                  "submission_ids": list(submission_ids), "config": config, "tags": list(tags)})
        if (first := _KEYS.replay(self.engine, who.agent, idempotency_key, request, PostResult)) is not None:
            return first
        kind, family = check_type(finding_type), canonical_family(method_family)
        title, summary, idea = title.strip(), summary.strip(), idea.strip()
        if not title or not summary or not idea:
            raise FindingsError("title, summary and idea must not be empty", "send a short title, summary and idea")
        if len(body) > self.settings.max_body_chars:
            raise FindingsError(f"body over {self.settings.max_body_chars} characters", "shorten the body")
        if not isinstance(config or {}, dict):
            raise FindingsError("config is not a JSON object", "send the key hyperparameters as an object")
        if (where := non_finite_path(config or {})) is not None:
            raise FindingsError(f"{where} is not a finite number (NaN or infinity has no JSON form)",
                                "send a finite number, null, or a string such as \"nan\"")
        config_json = json.dumps(config or {}, sort_keys=True, default=str, allow_nan=False)
        self._refuse_secrets(title=title, summary=summary, body=body, idea=idea, config=config_json,
                             tags=" ".join(tags))
        if len(config_json) > self.settings.max_config_chars:
            raise FindingsError(f"config over {self.settings.max_config_chars} characters as JSON",
                                "send the key hyperparameters only")
        ids = list(dict.fromkeys(int(i) for i in submission_ids))
        if kind == "result" and not ids:
            raise FindingsError("a result must cite at least one grader submission",
                                "send submission_ids from submit_predictions, or post it as a hypothesis or insight")
        scores = self._own_submissions(who, ids)
        best = max((s.pgr for s in scores if s.pgr is not None and math.isfinite(s.pgr)), default=None)
        clean_tags = list(dict.fromkeys(t.strip().lower() for t in tags if t.strip()))
        now = datetime.now(UTC)
        with write_session(self.engine) as session:
            if idempotency_key is not None:  # a concurrent retry may have stored it since the check above
                first = _KEYS.first_answer(session, who.agent, idempotency_key, request, PostResult)
                if first is not None:
                    return first
            row = FindingRow(agent=who.agent, title=title, summary=summary, body=body, finding_type=kind, idea=idea,
                             method_family=family, config_json=config_json, tags_json=json.dumps(clean_tags),
                             created_at=now, updated_at=now, seq=next_seq(session), best_pgr=best)
            session.add(row)
            session.flush()
            fid = int(row.id or 0)
            for sid in ids:
                session.add(CitationRow(finding_id=fid, submission_id=sid))
            session.execute(text("INSERT INTO findings_fts (rowid, title, summary, body, idea, tags) "
                                 "VALUES (:id, :title, :summary, :body, :idea, :tags)"),
                            {"id": fid, "title": title, "summary": summary, "body": body,
                             "idea": f"{idea} {family} {kind}", "tags": " ".join(clean_tags)})
            result = PostResult(finding_id=fid, seq=row.seq, best_pgr=best, submissions=scores,
                                note="Stored. The scores shown with it are the grader's; every agent's "
                                     "shared_findings/ gets it within seconds.")
            if idempotency_key is not None:
                _KEYS.record(session, who.agent, idempotency_key, request, finding_id=fid,
                             result_json=result.model_dump_json(), created_at=now)
        return result

    def _own_submissions(self, who: Identity, ids: list[int]) -> list[GraderScore]:
        if not ids:
            return []
        try:
            found = self.grader.submissions(ids)
        except GraderUnavailable:
            raise FindingsError("the grader's records cannot be read right now",
                                "post without submission_ids as a hypothesis, or retry later") from None
        for sid in ids:
            score = found.get(sid)
            if score is None or score.agent != who.agent:
                raise FindingsError(f"submission {sid} is not one of yours",
                                    "cite only ids that submit_predictions answered you")
        return [found[sid] for sid in ids]

    def comment(self, who: Identity, finding_id: int, body: str) -> CommentResult:
        body = body.strip()
        if not body:
            raise FindingsError("empty comment", "send some text")
        if len(body) > self.settings.max_comment_chars:
            raise FindingsError(f"comment over {self.settings.max_comment_chars} characters", "shorten it")
        self._refuse_secrets(comment=body)
        now = datetime.now(UTC)
        with write_session(self.engine) as session:
            finding = self._get(session, finding_id)
            row = CommentRow(finding_id=finding_id, agent=who.agent, body=body, created_at=now)
            session.add(row)
            finding.seq, finding.updated_at = next_seq(session), now
            session.add(finding)
            session.flush()
            count = int(session.exec(select(func.count()).select_from(CommentRow)
                                     .where(CommentRow.finding_id == finding_id)).one())
        return CommentResult(finding_id=finding_id, comments=count,
                             comment=CommentView(id=int(row.id or 0), agent=who.agent, body=body, created_at=now))

    def vote(self, who: Identity, finding_id: int, value: int) -> VoteResult:
        if value not in (-1, 0, 1):
            raise FindingsError(f"vote {value} is not -1, 0 or 1", "send 1 (up), -1 (down) or 0 (withdraw)")
        now = datetime.now(UTC)
        with write_session(self.engine) as session:
            finding = self._get(session, finding_id)
            if finding.agent == who.agent:
                raise FindingsError("you cannot vote on your own finding", "comment on it instead")
            row = session.exec(select(VoteRow).where(VoteRow.finding_id == finding_id,
                                                     VoteRow.agent == who.agent)).first()
            previous = 0 if row is None else row.value
            if value != previous:
                if row is not None and value == 0:
                    session.delete(row)
                elif row is not None:
                    row.value, row.updated_at = value, now
                    session.add(row)
                else:
                    session.add(VoteRow(finding_id=finding_id, agent=who.agent, value=value, updated_at=now))
                finding.seq, finding.updated_at = next_seq(session), now
                session.add(finding)
        with read_session(self.engine) as session:
            tally = self._tallies(session, [finding_id])[finding_id]
        return VoteResult(finding_id=finding_id, your_vote=value, votes=tally)

    def refresh_grader(self) -> bool:
        """Bump every citing finding's sequence when the grader published new scores; True if it did."""
        version = self.grader.version()
        with read_session(self.engine) as session:
            if get_meta(session, "grader_version") == version:
                return False
        with write_session(self.engine) as session:
            if get_meta(session, "grader_version") == version:
                return False
            ids = session.exec(select(CitationRow.finding_id).distinct()).all()
            if ids:
                seq, now = next_seq(session), datetime.now(UTC)
                for finding in session.exec(select(FindingRow).where(FindingRow.id.in_(ids))).all():  # type: ignore[union-attr]
                    finding.seq, finding.updated_at = seq, now
                    session.add(finding)
            set_meta(session, "grader_version", version)
        return True

    # -- reads ------------------------------------------------------------------------------------------------
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

    # -- helpers ----------------------------------------------------------------------------------------------
    def _get(self, session: Any, finding_id: int) -> FindingRow:
        row = session.get(FindingRow, finding_id)
        if row is None:
            raise FindingsError(f"no finding {finding_id}", "send an id from search_findings or shared_findings/")
        return row

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
