"""The findings feed, its search, one finding with its comments, votes, cited submissions and snapshots."""

from __future__ import annotations

import json
import sqlite3

from pydantic import BaseModel

from mcp_servers.findings._vocab import fts_query
from orchestrator.dashboard._board import Submission, epoch, submissions
from orchestrator.dashboard._sources import Sources, rows


class FindingItem(BaseModel):
    id: int
    agent: str
    title: str
    summary: str
    finding_type: str
    idea: str
    method_family: str
    at: float
    best_pgr: float | None
    votes: int
    comments: int


class Comment(BaseModel):
    agent: str
    body: str
    at: float


class SnapshotItem(BaseModel):
    id: int
    agent: str
    message: str
    idea: str | None
    at: float
    files: int
    total_bytes: int


class FindingDetail(BaseModel):
    item: FindingItem
    body: str
    config: str
    tags: list[str]
    comments: list[Comment]
    votes: dict[str, int]
    submissions: list[Submission]
    snapshots: list[SnapshotItem]


_ITEM = """
SELECT f.id, f.agent, f.title, f.summary, f.finding_type, f.idea, f.method_family, f.created_at, f.best_pgr,
       (SELECT COALESCE(SUM(v.value), 0) FROM findings_vote v WHERE v.finding_id = f.id) AS votes,
       (SELECT COUNT(*) FROM findings_comment c WHERE c.finding_id = f.id) AS comments
"""


def _item(r: sqlite3.Row) -> FindingItem:
    return FindingItem(id=r["id"], agent=r["agent"], title=r["title"], summary=r["summary"],
                       finding_type=r["finding_type"], idea=r["idea"], method_family=r["method_family"],
                       at=epoch(r["created_at"]) or 0.0, best_pgr=r["best_pgr"], votes=r["votes"],
                       comments=r["comments"])


def feed(sources: Sources, query: str = "", limit: int = 50) -> list[FindingItem]:
    """Newest first, or ranked by the findings server's own full-text query (bm25) when `query` has words."""
    match = fts_query(query)
    if match is None:
        sql = _ITEM + " FROM findings_finding f ORDER BY f.id DESC LIMIT ?"
        return [_item(r) for r in rows(sources, "findings", "findings_finding", sql, (limit,))]
    sql = (_ITEM + " FROM findings_fts JOIN findings_finding f ON f.id = findings_fts.rowid "
           "WHERE findings_fts MATCH ? ORDER BY bm25(findings_fts, 10.0, 5.0, 1.0, 4.0, 4.0), f.id DESC LIMIT ?")
    return [_item(r) for r in rows(sources, "findings", "findings_fts", sql, (match, limit))]


def finding(sources: Sources, finding_id: int) -> FindingDetail | None:
    found = rows(sources, "findings", "findings_finding",
                 _ITEM + ", f.body, f.config_json, f.tags_json FROM findings_finding f WHERE f.id = ?", (finding_id,))
    if not found:
        return None
    r = found[0]
    comments = [Comment(agent=c["agent"], body=c["body"], at=epoch(c["created_at"]) or 0.0) for c in rows(
        sources, "findings", "findings_comment",
        "SELECT agent, body, created_at FROM findings_comment WHERE finding_id = ? ORDER BY id", (finding_id,))]
    votes = {v["agent"]: v["value"] for v in rows(
        sources, "findings", "findings_vote", "SELECT agent, value FROM findings_vote WHERE finding_id = ?",
        (finding_id,))}
    cited = [c[0] for c in rows(sources, "findings", "findings_citation",
                                "SELECT submission_id FROM findings_citation WHERE finding_id = ? ORDER BY submission_id",
                                (finding_id,))]
    try:
        tags = [str(t) for t in json.loads(r["tags_json"] or "[]")]
    except ValueError:
        tags = []
    return FindingDetail(item=_item(r), body=r["body"], config=r["config_json"] or "{}", tags=tags,
                         comments=comments, votes=votes, submissions=submissions(sources, ids=cited),
                         snapshots=snapshots_of(sources, finding_id))


def snapshots_of(sources: Sources, finding_id: int) -> list[SnapshotItem]:
    return [SnapshotItem(id=s["id"], agent=s["agent"], message=s["message"], idea=s["idea"],
                         at=epoch(s["created_at"]) or 0.0, files=s["files"], total_bytes=s["total_bytes"])
            for s in rows(sources, "snapshot", "snapshot_snapshot",
                          "SELECT id, agent, message, idea, created_at, files, total_bytes FROM snapshot_snapshot "
                          "WHERE finding_id = ? ORDER BY id", (finding_id,))]


class FamilyEvent(BaseModel):
    at: float
    agent: str
    family: str


def family_events(sources: Sources) -> list[FamilyEvent]:
    """Each finding as (time, agent, method family), oldest first: what the diversity measure follows."""
    return [FamilyEvent(at=epoch(r["created_at"]) or 0.0, agent=r["agent"], family=r["method_family"])
            for r in rows(sources, "findings", "findings_finding",
                          "SELECT created_at, agent, method_family FROM findings_finding ORDER BY seq, id")]


def change_stamp(sources: Sources) -> str:
    """Changes whenever a finding, comment or vote changes (the findings server's own change sequence)."""
    found = rows(sources, "findings", "findings_meta", "SELECT value FROM findings_meta WHERE key = 'seq'")
    return str(found[0][0]) if found else "0"
