"""The report's tables: rows as dicts, written as CSV and Markdown with every agent-written cell made inert."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from mcp_servers.grader._results import mean_sem
from orchestrator.dashboard._agents import AgentView
from orchestrator.dashboard._board import Board, Submission

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>-])")


def md_cell(value: object) -> str:
    """A Markdown table cell that renders as the literal text (no links, HTML, emphasis or column breaks)."""
    text = " ".join(str(value).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def csv_cell(value: object) -> object:
    """Text starting like a spreadsheet formula is prefixed with ' so opening the CSV runs nothing."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def fmt(value: float | None, sem: float | None = None, digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" + (f" ± {sem:.{digits}f}" if sem is not None else "")


def pgr_rows(subs: Sequence[Submission]) -> list[dict[str, object]]:
    """PGR per dataset and idea, mean ± sem over runs (one run = an agent's best submission of that idea per seed)."""
    best: dict[tuple[str, str, str, int | None], Submission] = {}
    counts: dict[tuple[str, str], list[Submission]] = defaultdict(list)
    for sub in subs:
        idea = sub.idea or "(none)"
        counts[(sub.dataset, idea)].append(sub)
        key = (sub.dataset, idea, sub.agent, sub.seed)
        if key not in best or sub.accuracy > best[key].accuracy:
            best[key] = sub
    runs: dict[tuple[str, str], list[Submission]] = defaultdict(list)
    for (dataset, idea, _, _), sub in best.items():
        runs[(dataset, idea)].append(sub)
    out = []
    for (dataset, idea), members in sorted(runs.items()):
        pgrs = [m.pgr for m in members if m.pgr is not None]
        private = [m.private_pgr for m in members if m.private_pgr is not None]
        mean, sem = mean_sem(pgrs) if pgrs else (None, None)
        pmean, psem = mean_sem(private) if private else (None, None)
        out.append({"dataset": dataset, "idea": idea, "runs": len(members),
                    "agents": len({m.agent for m in members}), "submissions": len(counts[(dataset, idea)]),
                    "pgr_mean": mean, "pgr_sem": sem, "private_pgr_mean": pmean, "private_pgr_sem": psem,
                    "flagged": sum(1 for m in counts[(dataset, idea)] if m.flags)})
    return out


def board_rows(board: Board) -> list[dict[str, object]]:
    return [{"rank": i, "agent": e.agent, "idea": e.idea or "", "accuracy": e.best.accuracy, "pgr": e.best.pgr,
             "private_accuracy": e.best.private_accuracy, "private_pgr": e.best.private_pgr,
             "best_of": e.submissions, "seeds": e.seeds, "flags": ", ".join(e.best.flags),
             "flagged_submissions": e.flagged, "submission_id": e.best.id}
            for i, e in enumerate(board.entries, 1)]


def cost_rows(agents: Sequence[AgentView]) -> list[dict[str, object]]:
    out = []
    for a in agents:
        hours = (a.elapsed_s or 0.0) / 3600
        out.append({"agent": a.name, "kind": a.kind or "", "state": a.state, "agent_hours": round(hours, 4),
                    "cost_usd": round(a.cost_usd, 4),
                    "usd_per_agent_hour": round(a.cost_usd / hours, 4) if hours > 0 else None,
                    "job_hours": a.job_hours, "input_tokens": a.input_tokens, "output_tokens": a.output_tokens})
    return out


def write_csv(path: Path, rows: Sequence[dict[str, object]], columns: Sequence[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([csv_cell("" if row.get(c) is None else row.get(c)) for c in columns])
    return path


def markdown(rows: Sequence[dict[str, object]], columns: Sequence[tuple[str, str]]) -> str:
    """A Markdown table; `columns` are (header, key) and a key `x_mean` is shown as mean ± `x_sem`."""
    lines = ["| " + " | ".join(h for h, _ in columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = []
        for _, key in columns:
            if key.endswith("_mean"):
                cells.append(fmt(row.get(key), row.get(key[:-5] + "_sem")))  # type: ignore[arg-type]
            elif isinstance(row.get(key), float):
                cells.append(fmt(row.get(key)))  # type: ignore[arg-type]
            else:
                cells.append(md_cell("-" if row.get(key) in (None, "") else row.get(key)))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
