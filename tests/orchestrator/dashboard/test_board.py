"""The leaderboard and PGR over time are the grader's own numbers, private ones only once published."""

from __future__ import annotations

from mcp_servers.grader._board import leaderboard, publish, score_private
from orchestrator.dashboard._board import board, datasets, epoch, pgr_over_time
from tests.orchestrator.dashboard.dash_helpers import DEnv


def test_board_matches_the_graders_leaderboard(denv: DEnv) -> None:
    ours, theirs = board(denv.sources, "toy"), leaderboard(denv.grader, "toy")
    assert (ours.weak_acc, ours.strong_acc) == (theirs.weak_acc, theirs.strong_acc)
    assert [(e.agent, e.idea, e.best.id, e.best.accuracy, e.best.pgr, e.submissions, e.seeds) for e in ours.entries] \
        == [(e.agent, e.idea, e.best_submission_id, e.accuracy, e.pgr, e.submissions, e.seeds) for e in theirs.entries]
    assert datasets(denv.sources) == ["toy"]
    assert all(e.best.private_accuracy is None for e in ours.entries) and ours.published_at is None


def test_private_scores_appear_once_published(denv: DEnv) -> None:
    score_private(denv.grader, "toy")
    assert all(e.best.private_accuracy is None for e in board(denv.sources, "toy").entries)
    publish(denv.grader, "toy")
    ours, theirs = board(denv.sources, "toy"), leaderboard(denv.grader, "toy")
    assert ours.published_at is not None
    assert [(e.best.private_accuracy, e.best.private_pgr) for e in ours.entries] \
        == [(e.private_accuracy, e.private_pgr) for e in theirs.entries]
    assert any(e.best.private_accuracy is not None for e in ours.entries)


def test_pgr_over_time_is_each_agents_best_so_far(denv: DEnv) -> None:
    series = pgr_over_time(denv.sources, "toy")
    assert set(series) == {"alice", "bob"}
    for points in series.values():
        assert [p.pgr for p in points] == sorted(p.pgr for p in points)
        assert len({p.pgr for p in points}) == len(points)
    assert max(p.pgr for p in series["alice"]) == max(
        e.pgr for e in leaderboard(denv.grader, "toy").entries if e.agent == "alice" and e.pgr is not None)


def test_epoch_reads_sqlite_timestamps() -> None:
    assert epoch("1970-01-01 00:01:00") == 60.0
    assert epoch("1970-01-01T00:01:00+00:00") == 60.0
    assert epoch(12.5) == 12.5 and epoch(None) is None
