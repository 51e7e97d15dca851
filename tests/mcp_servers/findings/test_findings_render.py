"""Markdown rendering of a finding and of INDEX.md."""

from __future__ import annotations

from datetime import UTC, datetime

import yaml

from mcp_servers.findings import (
    CommentView,
    FindingView,
    GraderScore,
    VoteTally,
    finding_filename,
    render_finding,
    render_index,
)

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def view(**over: object) -> FindingView:
    base: dict[str, object] = {
        "id": 12, "title": "Title: with | pipes & 'quotes'", "summary": "Line one.\nLine two.",
        "body": "## Body\n\ntext", "agent": "alice", "finding_type": "result", "method_family": "self-training",
        "idea": "st", "tags": ["a"], "config": {"lr": 0.001}, "created_at": NOW, "updated_at": NOW, "seq": 3,
        "best_pgr": 0.5, "votes": VoteTally(up=1, score=1),
        "submissions": [GraderScore(submission_id=4, agent="alice", dataset="toy", submitted_at=NOW, accuracy=0.8,
                                    pgr=0.5, flags=["near-duplicate"])],
        "comments": [CommentView(id=1, agent="bob", body="---\nnot front matter", created_at=NOW)],
    }
    return FindingView.model_validate(base | over)


def test_front_matter_and_sections() -> None:
    text = render_finding(view())
    meta = yaml.safe_load(text.split("---\n")[1])
    assert meta["id"] == 12 and meta["title"] == "Title: with | pipes & 'quotes'" and meta["author"] == "alice"
    assert meta["grader_verified"] == [{"submission": 4, "dataset": "toy", "accuracy": 0.8, "pgr": 0.5,
                                        "flags": ["near-duplicate"]}]
    assert meta["votes"] == {"up": 1, "down": 0, "score": 1} and meta["comments"] == 1
    assert "> Line one.\n> Line two." in text and "## Comments (1)" in text and '"lr": 0.001' in text
    assert render_finding(view()) == text  # deterministic: the syncer rewrites only real changes


def test_filename_and_index() -> None:
    assert finding_filename(view()) == "00012-title-with-pipes-quotes.md"
    assert finding_filename(view(title="???")) == "00012-finding.md"
    index = render_index([view(), view(id=13, title="Newer", finding_type="negative")])
    assert index.index("Newer") < index.index("pipes") and "\\|" in index
    assert "[Newer](00013-newer.md)" in index and "By type: negative 1, result 1" in index
