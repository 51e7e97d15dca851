"""In-memory fastmcp Client tests of the findings tools: grader-verified results, refusals, search, votes, restart."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError
from sqlalchemy import func
from sqlmodel import select

from mcp_servers.core import read_session
from mcp_servers.findings import build_server
from mcp_servers.findings._records import CitationRow, FindingRow
from prompts import method_families
from tests.mcp_servers.findings.findings_helpers import FEnv
from tests.mcp_servers.server_helpers import integer_bounds

CORPUS = [  # (title, summary, body, family, type, tags)
    ("Confidence-weighted cross entropy beats plain weak labels", "Weight each example by weak confidence.",
     "Per-example loss weights from the weak model's margin.", "confidence weighting", "insight", ["loss"]),
    ("Ensembling five seeds of the strong student", "Averaging logits of five seeds helps a little.",
     "Seed ensemble, mean of probabilities.", "ensemble", "insight", ["seeds"]),
    ("Curriculum from easy to hard examples", "Order training by weak confidence.", "Two phases.", "curriculum",
     "hypothesis", []),
    ("Self-training with pseudo labels from the strong model", "Relabel train_unlabel with the student, retrain.",
     "Three rounds of pseudo labeling.", "self-training", "insight", ["pseudo"]),
    ("Contrast consistent search probe on hidden states", "A CCS probe finds a truth direction unsupervised.",
     "Probe on layer 8 of mpnet.", "model internal", "hypothesis", ["ccs", "probe"]),
    ("Zero-shot cosine elicitation of the encoder", "Verbalized answers embedded, nearest wins.",
     "Unsupervised elicitation baseline without weak labels.", "unsupervised elicitation", "insight", []),
    ("Filtering out low-agreement weak labels", "Drop examples where weak and strong disagree.",
     "Agreement filter keeps 60 percent.", "data filtering", "negative", ["filter"]),
    ("Distilling a teacher ensemble into one student", "Knowledge distillation from soft targets.",
     "Temperature 2 distillation.", "distillation", "insight", []),
    ("Evolutionary search over LoRA hyperparameters", "Mutate learning rate and rank by PGR.", "Population 8.",
     "evolutionary", "error", []),
    ("Auxiliary confidence loss with a warmup window", "Logconf loss with a window helps late epochs.",
     "Window of 200 steps.", "loss function", "insight", ["logconf"]),
]


async def call(app: Any, tool: str, **args: Any) -> dict[str, Any]:
    async with Client(app.mcp) as client:
        return (await client.call_tool(tool, args)).structured_content  # type: ignore[return-value]


def count(app: Any, model: Any = FindingRow) -> int:
    with read_session(app.engine) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def post_args(**over: Any) -> dict[str, Any]:
    args = {"title": "t", "summary": "s", "body": "b", "finding_type": "insight", "idea": "vanilla",
            "method_family": "other"}
    return args | over


async def test_result_shows_grader_scores_not_the_agents(fenv: FEnv) -> None:
    sid = fenv.submit("alice", 0.8, idea="conf")
    alice = build_server(local_token=fenv.tokens["alice"])
    posted = await call(alice, "post_finding", **post_args(
        title="Confidence filtering", finding_type="result", method_family="Data_Filtering", idea="conf",
        body="We reached PGR 0.99 and accuracy 99%!", submission_ids=[sid, sid], config={"lr": 1e-4},
        tags=["Filter", "filter"]))
    score = posted["submissions"][0]
    assert score["agent"] == "alice" and score["submission_id"] == sid and 0.6 < score["accuracy"] < 0.95
    assert posted["best_pgr"] == score["pgr"] != 0.99
    view = await call(alice, "read_finding", finding_id=posted["finding_id"])
    assert view["agent"] == "alice" and view["method_family"] == "data filtering" and view["tags"] == ["filter"]
    assert [s["submission_id"] for s in view["submissions"]] == [sid] and view["config"] == {"lr": 1e-4}
    assert view["submissions"][0]["pgr"] == score["pgr"]


async def test_refusals_store_nothing(fenv: FEnv) -> None:
    mine, theirs = fenv.submit("alice", 0.7), fenv.submit("bob", 0.7)
    alice = build_server(local_token=fenv.tokens["alice"])
    cases = [
        (post_args(finding_type="result"), "must cite at least one grader submission"),
        (post_args(finding_type="result", submission_ids=[theirs]), f"submission {theirs} is not one of yours"),
        (post_args(finding_type="insight", submission_ids=[mine, theirs]), "not one of yours"),
        (post_args(finding_type="result", submission_ids=[999]), "submission 999 is not one of yours"),
        (post_args(finding_type="discovery"), "send one of: result, hypothesis, insight, negative, error"),
        (post_args(method_family="magic"), "send one of: " + ", ".join(method_families())),
        (post_args(title="   "), "must not be empty"),
        (post_args(config={"x": "y" * 30_000}), "config over"),
    ]
    for args, expect in cases:
        with pytest.raises(ToolError) as info:
            await call(alice, "post_finding", **args)
        assert expect in str(info.value), (args, str(info.value))
    with pytest.raises(ToolError):  # no author argument: identity only comes from the token
        await call(alice, "post_finding", **post_args(agent="bob"))
    assert count(alice) == 0 and count(alice, CitationRow) == 0
    for tool, args in (("read_finding", {"finding_id": 7}), ("comment_finding", {"finding_id": 7, "body": "x"}),
                       ("vote_finding", {"finding_id": 7, "value": 1})):
        with pytest.raises(ToolError, match="no finding 7"):
            await call(alice, tool, **args)


async def test_search_ranks_the_right_finding_first(fenv: FEnv) -> None:
    apps = [build_server(local_token=fenv.tokens[a]) for a in ("alice", "bob", "carol")]
    ids = []
    for i, (title, summary, body, family, kind, tags) in enumerate(CORPUS):
        args = post_args(title=title, summary=summary, body=body, method_family=family, finding_type=kind, tags=tags,
                         idea=f"idea-{i}")
        ids.append((await call(apps[i % 3], "post_finding", **args))["finding_id"])
    reader = apps[0]
    for query, want in (("confidence weighted cross entropy", 0), ("seed ensemble", 1), ("curriculum easy hard", 2),
                        ("pseudo labels self training", 3), ("CCS probe hidden states", 4),
                        ("zero-shot elicitation", 5), ("filter disagreeing weak labels", 6),
                        ("distillation soft targets", 7), ("evolutionary hyperparameter search", 8),
                        ("logconf warmup window", 9)):
        page = await call(reader, "search_findings", query=query)
        assert page["items"][0]["id"] == ids[want], (query, [i["title"] for i in page["items"]])
        assert page["items"][0]["rank"] is not None
    filtered = await call(reader, "search_findings", query="loss", family="Confidence Weighting")
    assert [i["id"] for i in filtered["items"]] == [ids[0]]
    assert (await call(reader, "search_findings", finding_type="negative"))["total"] == 1
    assert (await call(reader, "search_findings", agent="bob"))["total"] == 3
    first = await call(reader, "search_findings", limit=4)
    assert first["total"] == 10 and first["next_offset"] == 4 and first["items"][0]["id"] == ids[-1]
    later = datetime.now(UTC) + timedelta(minutes=1)
    assert (await call(reader, "search_findings", since=later.isoformat()))["total"] == 0
    earlier = datetime.now(UTC) - timedelta(minutes=1)
    assert (await call(reader, "search_findings", since=earlier.isoformat()))["total"] == 10
    assert (await call(reader, "search_findings", query="!!! \"(", limit=3))["total"] == 10
    with pytest.raises(ToolError, match="send one of"):
        await call(reader, "search_findings", family="nope")


async def test_min_pgr_filter(fenv: FEnv) -> None:
    alice = build_server(local_token=fenv.tokens["alice"])
    low = await call(alice, "post_finding", **post_args(finding_type="result",
                                                         submission_ids=[fenv.submit("alice", 0.62)]))
    high = await call(alice, "post_finding", **post_args(finding_type="result", idea="better",
                                                          submission_ids=[fenv.submit("alice", 0.9)]))
    assert high["best_pgr"] > low["best_pgr"]
    page = await call(alice, "search_findings", min_pgr=(low["best_pgr"] + high["best_pgr"]) / 2)
    assert [i["id"] for i in page["items"]] == [high["finding_id"]]


async def test_comments_votes_and_sync_cursor(fenv: FEnv) -> None:
    alice, bob, carol = (build_server(local_token=fenv.tokens[a]) for a in ("alice", "bob", "carol"))
    fid = (await call(alice, "post_finding", **post_args()))["finding_id"]
    start = (await call(bob, "sync_findings", cursor=0))["cursor"]
    await call(bob, "comment_finding", finding_id=fid, body="Replicated on pref.")
    assert (await call(bob, "vote_finding", finding_id=fid, value=1))["votes"]["score"] == 1
    assert (await call(bob, "vote_finding", finding_id=fid, value=-1))["votes"]["score"] == -1  # changed, not added
    assert (await call(carol, "vote_finding", finding_id=fid, value=-1))["votes"]["down"] == 2
    assert (await call(carol, "vote_finding", finding_id=fid, value=0))["votes"]["votes"] == [
        {"agent": "bob", "value": -1}]
    with pytest.raises(ToolError, match="your own finding"):
        await call(alice, "vote_finding", finding_id=fid, value=1)
    view = await call(carol, "read_finding", finding_id=fid)
    assert [c["agent"] for c in view["comments"]] == ["bob"] and view["votes"]["score"] == -1
    changed = await call(carol, "sync_findings", cursor=start)
    assert [f["id"] for f in changed["findings"]] == [fid] and changed["cursor"] > start
    assert changed["findings"][0]["comments"][0]["body"] == "Replicated on pref."
    assert (await call(carol, "sync_findings", cursor=changed["cursor"]))["findings"] == []


async def test_sync_pages_and_restart_loses_nothing(fenv: FEnv) -> None:
    alice = build_server(local_token=fenv.tokens["alice"])
    sid = fenv.submit("alice", 0.75)
    for i in range(7):
        await call(alice, "post_finding", **post_args(title=f"finding {i}", finding_type="result",
                                                      submission_ids=[sid]))
    await call(build_server(local_token=fenv.tokens["bob"]), "comment_finding", finding_id=3, body="hm")
    restarted = build_server(local_token=fenv.tokens["carol"])
    seen, cursor, more = [], 0, True
    while more:
        page = await call(restarted, "sync_findings", cursor=cursor, limit=3)
        seen += [f["id"] for f in page["findings"]]
        cursor, more = page["cursor"], page["more"]
    assert sorted(seen) == list(range(1, 8)) and seen[-1] == 3
    view = await call(restarted, "read_finding", finding_id=3)
    assert view["comments"][0]["body"] == "hm" and view["submissions"][0]["submission_id"] == sid


async def test_tool_annotations(fenv: FEnv) -> None:
    async with Client(build_server(local_token=fenv.tokens["alice"]).mcp) as client:
        tools = {t.name: t for t in await client.list_tools()}
    assert {"post_finding", "search_findings", "read_finding", "comment_finding", "vote_finding",
            "sync_findings"} <= set(tools)
    for name in ("search_findings", "read_finding", "sync_findings"):
        assert tools[name].annotations.read_only_hint is True  # type: ignore[union-attr]
    assert tools["post_finding"].annotations.read_only_hint is False  # type: ignore[union-attr]
    assert "agent" not in tools["post_finding"].input_schema["properties"]


async def test_retry_with_idempotency_key_is_stored_once(fenv: FEnv) -> None:
    """A post whose answer was lost is retried with its key: the first answer comes back, one finding is stored."""
    sid = fenv.submit("alice", 0.8)
    alice, bob = build_server(local_token=fenv.tokens["alice"]), build_server(local_token=fenv.tokens["bob"])
    args = post_args(finding_type="result", submission_ids=[sid], idempotency_key="0b7e1d2c-retry")
    first = await call(alice, "post_finding", **args)
    assert await call(alice, "post_finding", **args) == first
    assert count(alice) == 1 and count(alice, CitationRow) == 1
    with pytest.raises(ToolError, match=r"idempotency_key '0b7e1d2c-retry' was used for another finding \(1\)"):
        await call(alice, "post_finding", **(args | {"title": "changed"}))
    theirs = await call(bob, "post_finding", **post_args(idempotency_key="0b7e1d2c-retry"))  # keys are per agent
    assert theirs["finding_id"] == 2 and count(alice) == 2


async def test_database_faults_answer_without_sql(fenv: FEnv) -> None:
    alice = build_server(local_token=fenv.tokens["alice"])
    with sqlite3.connect(fenv.settings.db_path("findings")) as conn:  # a damaged database
        conn.execute("DROP TABLE findings_fts")
    with pytest.raises(ToolError) as info:
        await call(alice, "post_finding", **post_args())
    text = str(info.value)
    assert "its database or disk failed" in text and "stored nothing" in text, text
    assert not any(word in text for word in ("SQL", "INSERT", "findings_fts", str(fenv.home)))
    assert count(alice) == 0


async def test_integer_arguments_say_the_range_the_core_enforces(fenv: FEnv) -> None:
    """Ids and offsets declare SQLite's range in the schema (the core's middleware refuses past it for every tool)."""
    async with Client(build_server(local_token=fenv.tokens["alice"]).mcp) as client:
        bounds = {(t.name, name): b for t in await client.list_tools() for name, b in integer_bounds(t.input_schema).items()}
    assert {key for key in bounds if key[1].endswith(("_id", "_ids"))} >= {("read_finding", "finding_id"), ("post_finding", "submission_ids")}
    for (tool, name), (low, high) in bounds.items():
        assert high is not None and high <= 2**63 - 1, (tool, name)
        assert low is not None and low >= (1 if name.endswith(("_id", "_ids")) else -1), (tool, name)
