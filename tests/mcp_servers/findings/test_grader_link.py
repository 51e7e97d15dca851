"""The findings server's read-only view of the grader's records."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mcp_servers.findings import GraderLink, GraderUnavailable
from mcp_servers.grader._board import publish, score_private
from tests.mcp_servers.findings.findings_helpers import FEnv


def test_reads_grader_scored_submissions(fenv: FEnv) -> None:
    a, b = fenv.submit("alice", 0.8), fenv.submit("bob", 0.7)
    link = GraderLink(fenv.settings.grader_db_path)
    found = link.submissions([a, b, 12345])
    assert set(found) == {a, b}
    assert found[a].agent == "alice" and found[a].dataset == "toy" and found[a].pgr is not None
    assert found[a].private_pgr is None and found[a].submitted_at.tzinfo is not None
    before = link.version()
    score_private(fenv.grader, "toy")
    # An operator's preview changes nothing anyone else may see: neither the scores nor the version.
    assert link.version() == before and link.submissions([a])[a].private_pgr is None
    publish(fenv.grader, "toy", fenv.home / "published")
    assert link.version() != before
    assert link.submissions([a])[a].private_accuracy is not None and link.submissions([a])[a].final


def test_is_read_only(fenv: FEnv) -> None:
    fenv.submit("alice", 0.8)
    link = GraderLink(fenv.settings.grader_db_path)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        link._connect().execute("DELETE FROM grader_publication")


def test_missing_grader_db(tmp_path: Path) -> None:
    link = GraderLink(tmp_path / "grader.db")
    with pytest.raises(GraderUnavailable):
        link.submissions([1])
    assert link.submissions([]) == {} and link.version() == ""
