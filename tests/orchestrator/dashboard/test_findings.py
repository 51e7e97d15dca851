"""The findings feed, its full-text search and one finding with everything attached."""

from __future__ import annotations

import pytest

from orchestrator.dashboard._findings import change_stamp, family_events, feed, finding
from tests.orchestrator.dashboard.dash_helpers import DEnv


def test_feed_newest_first(denv: DEnv) -> None:
    assert [f.id for f in feed(denv.sources)] == [denv.ids["f_ensemble"], denv.ids["f_logconf"]]


@pytest.mark.parametrize("query", ["confidence", "Confidence LOSS", "losses", "logconf"])
def test_search_finds_the_finding(denv: DEnv, query: str) -> None:
    assert [f.id for f in feed(denv.sources, query)] == [denv.ids["f_logconf"]]


@pytest.mark.parametrize("query", ['"unbalanced', "a OR", "NEAR(", "*", "x'; DROP TABLE findings_finding; --"])
def test_search_syntax_is_data(denv: DEnv, query: str) -> None:
    feed(denv.sources, query)
    assert len(feed(denv.sources)) == 2


def test_one_finding_with_comments_votes_submissions_snapshots(denv: DEnv) -> None:
    detail = finding(denv.sources, denv.ids["f_logconf"])
    assert detail is not None
    assert detail.item.votes == 1 and detail.votes == {"bob": 1}
    assert [c.body for c in detail.comments] == ["Reproduced on seed 1? <b>bold</b>"]
    assert [s.id for s in detail.submissions] == [denv.ids["a_logconf"]]
    assert [s.id for s in detail.snapshots] == [denv.ids["snap"]]
    assert detail.tags == ["toy"] and finding(denv.sources, 999) is None


def test_change_stamp_moves_with_every_change(denv: DEnv) -> None:
    before = change_stamp(denv.sources)
    denv.findings.vote(denv.who("alice"), denv.ids["f_ensemble"], 1)
    assert change_stamp(denv.sources) != before
    assert [e.family for e in family_events(denv.sources)] == ["loss function", "ensemble"]
