"""The findings logic, independent of MCP: post, comment, vote and the grader refresh here; search (FTS5 + bm25),
read and export since a cursor in `_reads`; settings and the checks of names in `_vocab`.

`FindingsService` is what the tools call; the workspace syncer and tests call it directly too.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, text
from sqlmodel import select

from mcp_servers.core import (
    IdempotencyKeys,
    Identity,
    TokenStore,
    read_session,
    request_sha256,
    write_session,
)
from mcp_servers.findings._clean import non_finite_path, secret_in
from mcp_servers.findings._grader_link import GraderLink, GraderScore, GraderUnavailable
from mcp_servers.findings._models import CommentResult, CommentView, PostResult, VoteResult
from mcp_servers.findings._reads import FindingsReads
from mcp_servers.findings._records import (
    CitationRow,
    CommentRow,
    FindingRow,
    IdempotencyRow,
    VoteRow,
    get_meta,
    init_findings_db,
    next_seq,
    set_meta,
)
from mcp_servers.findings._vocab import FindingsError, FindingsSettings, canonical_family, check_type

_KEYS = IdempotencyKeys(IdempotencyRow, "finding_id", FindingsError, "finding")


class FindingsService(FindingsReads):
    """The findings store over one engine: the writes here, the reads in `FindingsReads`."""

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

    # -- helpers ----------------------------------------------------------------------------------------------
    def _get(self, session: Any, finding_id: int) -> FindingRow:
        row = session.get(FindingRow, finding_id)
        if row is None:
            raise FindingsError(f"no finding {finding_id}", "send an id from search_findings or shared_findings/")
        return row
