"""Report tables: PGR mean ± sem per idea, and agent text made inert in Markdown and CSV."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from orchestrator.dashboard._board import Submission
from orchestrator.dashboard._tables import csv_cell, markdown, md_cell, pgr_rows, write_csv


def _sub(i: int, agent: str, idea: str, seed: int, acc: float, pgr: float) -> Submission:
    return Submission(id=i, agent=agent, dataset="toy", at=i, idea=idea, seed=seed, accuracy=acc, pgr=pgr,
                      id_accuracy=None, ood_accuracy=None, flags=["near-duplicate"] if i == 4 else [])


def test_pgr_mean_sem_over_runs() -> None:
    subs = [_sub(1, "a", "x", 0, 0.7, 0.2), _sub(2, "a", "x", 0, 0.8, 0.5),  # best of seed 0: 0.5
            _sub(3, "a", "x", 1, 0.75, 0.3), _sub(4, "b", "x", 0, 0.9, 0.7), _sub(5, "b", "y", 0, 0.6, 0.0)]
    rows = {r["idea"]: r for r in pgr_rows(subs)}
    x = rows["x"]
    values = [0.5, 0.3, 0.7]
    mean = sum(values) / 3
    sem = math.sqrt(sum((v - mean) ** 2 for v in values) / 2) / math.sqrt(3)
    assert x["runs"] == 3 and x["agents"] == 2 and x["submissions"] == 4 and x["flagged"] == 1
    assert math.isclose(x["pgr_mean"], mean) and math.isclose(x["pgr_sem"], sem)  # type: ignore[arg-type]
    assert rows["y"]["pgr_sem"] is None and rows["y"]["private_pgr_mean"] is None


def test_markdown_cells_are_literal() -> None:
    evil = "x | [click](javascript:alert(1)) <img src=x onerror=alert(1)> *bold*\nnext"
    cell = md_cell(evil)
    assert "|" not in cell.replace("\\|", "") and "<" not in cell and "\n" not in cell
    assert "\\[click\\]" in cell and "\\*bold\\*" in cell
    table = markdown([{"agent": evil, "pgr_mean": 0.5, "pgr_sem": 0.1}], [("agent", "agent"), ("PGR", "pgr_mean")])
    assert table.splitlines()[2].count(" | ") == 1 and "0.500 ± 0.100" in table


def test_csv_cells_never_start_a_formula(tmp_path: Path) -> None:
    assert csv_cell("=HYPERLINK(\"http://x\")") == "'=HYPERLINK(\"http://x\")" and csv_cell(0.5) == 0.5
    path = write_csv(tmp_path / "t.csv", [{"agent": "@SUM(A1)", "pgr": None}], ["agent", "pgr"])
    assert list(csv.reader(path.open())) == [["agent", "pgr"], ["'@SUM(A1)", ""]]
