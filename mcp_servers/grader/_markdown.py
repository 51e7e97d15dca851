"""The leaderboard as Markdown (`w2s-admin grader leaderboard DATASET --markdown`), agent strings as data.

Agent names and ideas are escaped so that no Markdown or HTML they contain takes effect: every character that
Markdown or an HTML renderer could read as syntax is backslash-escaped or written as an entity, and line breaks
become spaces (a string can never start a new table row or heading).
"""

from __future__ import annotations

import re

from mcp_servers.grader._models import Leaderboard

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def md_text(value: str | None) -> str:
    """`value` as literal text inside Markdown (a table cell included)."""
    if not value:
        return ""
    flat = " ".join(value.split())
    flat = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", flat)


def _num(value: float | None, signed: bool = False) -> str:
    return "" if value is None else (f"{value:+.3f}" if signed else f"{value:.3f}")


def board_markdown(board: Leaderboard) -> str:
    lines = [f"# Leaderboard: {md_text(board.dataset)}", ""]
    if board.published_at is not None:
        lines += [(f"Private scores published {board.published_at.isoformat(timespec='seconds')}"
                  f"{' (run closed)' if board.closed else ''}."), ""]
    lines += [("| agent | idea | public acc | public PGR | submissions / improvements | flagged (climb) | final "
              "| private acc | private PGR |"), "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for e in board.entries:
        lines.append(f"| {md_text(e.agent)} | {md_text(e.idea)} | {_num(e.accuracy)} | {_num(e.pgr)} | "
                     f"{e.agent_submissions} / {e.agent_improvements} | {e.flagged} ({e.climb_flagged}) | "
                     f"{'yes' if e.final else ''} | {_num(e.private_accuracy)} | {_num(e.private_pgr)} |")
    lines += ["", "| agent | submissions | improvements | climb-flagged | best public | best private | gap |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for a in board.agents:
        lines.append(f"| {md_text(a.agent)} | {a.submissions} | {a.improvements} | {a.climb_flagged} | "
                     f"{_num(a.accuracy)} | {_num(a.private_accuracy)} | {_num(a.gap_accuracy, signed=True)} |")
    return "\n".join(lines) + "\n"
