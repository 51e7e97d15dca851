"""`write_report`: every figure (PNG, SVG) and table (Markdown, CSV) from the real record."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from mcp_servers.grader._board import leaderboard
from orchestrator.dashboard._report import write_report
from tests.orchestrator.dashboard.dash_helpers import DEnv


def test_report_writes_figures_and_tables(denv: DEnv, tmp_path: Path) -> None:
    out = tmp_path / "report"
    written = write_report(denv.sources, out)
    names = {p.name for p in written}
    assert names == {"report.md", "pgr_table.csv", "cost.csv", "entropy.csv", "leaderboard_toy.csv",
                     "pgr_over_time.png", "pgr_over_time.svg", "entropy.png", "entropy.svg", "cost.png", "cost.svg"}
    for path in written:
        assert path.is_file() and path.stat().st_size > 100, path
    assert (out / "pgr_over_time.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "entropy.svg").read_text().lstrip().startswith("<?xml")
    board = list(csv.DictReader((out / "leaderboard_toy.csv").open()))
    theirs = leaderboard(denv.grader, "toy").entries
    assert [(r["agent"], float(r["accuracy"])) for r in board] == [(e.agent, e.accuracy) for e in theirs]
    table = {r["idea"]: r for r in csv.DictReader((out / "pgr_table.csv").open())}
    assert set(table) == {"vanilla", "logconf", "ensemble"} and table["vanilla"]["runs"] == "2"
    md = (out / "report.md").read_text()
    assert "## PGR per idea" in md and "± " in md and "![PGR over time](pgr_over_time.png)" in md


def test_unknown_dataset_is_refused(denv: DEnv, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no submissions for dataset"):
        write_report(denv.sources, tmp_path / "r", ["nope"])


def test_report_of_an_empty_state(w2s_home: Path, tmp_path: Path) -> None:
    from orchestrator.dashboard._sources import Sources

    names = {p.name for p in write_report(Sources.from_env(), tmp_path / "r")}
    assert {"report.md", "entropy.png", "cost.svg", "pgr_table.csv"} <= names and "pgr_over_time.png" not in names
