"""Markdown for `<workspace>/shared_findings/`: one file per finding (YAML front matter, body, scores, comments)
and `INDEX.md`. Rendering is deterministic, so the syncer rewrites a file only when its content changed.

Everything an agent wrote is data here, never structure: multi-line text (summary, body, comments) is quoted, every
line prefixed with `> ` (after splitting on every line break Python and CommonMark know, `\\r` included), so no
line of it starts at column 0 where our own lines (headings, comment headers, the Config block) do; one-line text
(title, idea, table cells) is collapsed to one line with markdown punctuation escaped; control characters are shown
as `\\xNN`. A comment can therefore not forge another agent's comment header, a section, or the Config block that
other agents' programs parse.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

import yaml

from mcp_servers.findings._models import FindingView

SHARED_DIR = "shared_findings"
INDEX_NAME = "INDEX.md"


def finding_filename(view: FindingView) -> str:
    """`00012-confident-only-self-training.md` (stable: id and title never change)."""
    slug = re.sub(r"[^a-z0-9]+", "-", view.title.lower()).strip("-")[:60].strip("-") or "finding"
    return f"{view.id:05d}-{slug}.md"


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def _visible(text: str) -> str:
    """Control characters (terminal escapes, NUL) as `\\xNN` text."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


def _inline(text: str) -> str:
    """One line of agent text: whitespace and line breaks collapsed, markdown punctuation escaped."""
    return _INLINE_SPECIAL.sub(r"\\\1", " ".join(_visible(text).split()))


def _cell(text: str) -> str:
    return _inline(text)


def _quoted(text: str) -> str:
    """Agent text as a block quote: every line, however it was broken, starts with `> `."""
    lines = _visible(text.strip()).splitlines() or [""]
    return "\n".join(("> " + line).rstrip() for line in lines) + "\n"


def front_matter(view: FindingView) -> dict[str, Any]:
    return {
        "id": view.id,
        "title": view.title,
        "author": view.agent,
        "type": view.finding_type,
        "family": view.method_family,
        "idea": view.idea,
        "tags": view.tags,
        "created": view.created_at.isoformat(timespec="seconds"),
        "updated": view.updated_at.isoformat(timespec="seconds"),
        "best_pgr": view.best_pgr,
        "grader_verified": [
            {k: v for k, v in {
                "submission": s.submission_id, "dataset": s.dataset, "accuracy": s.accuracy, "pgr": s.pgr,
                "id_accuracy": s.id_accuracy, "ood_accuracy": s.ood_accuracy, "flags": s.flags or None,
                "private_accuracy": s.private_accuracy, "private_pgr": s.private_pgr,
            }.items() if v is not None}
            for s in view.submissions
        ],
        "votes": {"up": view.votes.up, "down": view.votes.down, "score": view.votes.score},
        "comments": len(view.comments),
    }


def render_finding(view: FindingView) -> str:
    meta = yaml.safe_dump(front_matter(view), sort_keys=False, allow_unicode=True, width=1000)
    parts = [f"---\n{meta}---\n", f"# {_inline(view.title)}\n", _quoted(view.summary)]
    parts.append(f"*{view.finding_type}* · {view.method_family} · idea {_inline(view.idea)} · by **{view.agent}** · "
                 f"votes {view.votes.score:+d} ({view.votes.up} up, {view.votes.down} down)\n")
    if view.submissions:
        rows = ["## Grader-verified scores\n",
                "| submission | dataset | accuracy | PGR | ID acc | OOD acc | private PGR | flags |",
                "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        rows += [f"| {s.submission_id} | {_cell(s.dataset)} | {_num(s.accuracy)} | {_num(s.pgr)} | "
                 f"{_num(s.id_accuracy)} | {_num(s.ood_accuracy)} | {_num(s.private_pgr)} | "
                 f"{_cell(', '.join(s.flags))} |" for s in view.submissions]
        parts.append("\n".join(rows) + "\n")
    parts.append("## Details\n\n" + (_quoted(view.body) if view.body.strip() else "_(no body)_\n"))
    if view.config:
        parts.append("## Config\n\n```json\n" + json.dumps(view.config, indent=2, sort_keys=True) + "\n```\n")
    if view.votes.votes:
        parts.append("## Votes\n\n" + ", ".join(f"{v.agent} {v.value:+d}" for v in view.votes.votes) + "\n")
    parts.append(f"## Comments ({len(view.comments)})\n")
    for c in view.comments:
        parts.append(f"### Comment {c.id} by **{c.agent}** · {c.created_at.isoformat(timespec='seconds')}\n\n"
                     + _quoted(c.body))
    return "\n".join(parts)


def render_index(views: Iterable[FindingView]) -> str:
    ordered = sorted(views, key=lambda v: -v.id)
    families = Counter(v.method_family for v in ordered)
    types = Counter(v.finding_type for v in ordered)
    lines = ["# Shared findings\n",
             (f"{len(ordered)} findings from every agent, newest first; one file each in this folder, kept current "
              "(comments, votes, grader scores). Scores are the grader's, never the author's.\n"),
             "By type: " + (", ".join(f"{k} {n}" for k, n in sorted(types.items())) or "none") + "  ",
             "By family: " + (", ".join(f"{k} {n}" for k, n in sorted(families.items())) or "none") + "\n",
             "| id | type | family | author | idea | best PGR | votes | comments | title |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {v.id} | {v.finding_type} | {v.method_family} | {_cell(v.agent)} | {_cell(v.idea)} | "
              f"{_num(v.best_pgr)} | {v.votes.score:+d} | {len(v.comments)} | "
              f"[{_cell(v.title)}]({finding_filename(v)}) |" for v in ordered]
    return "\n".join(lines) + "\n"
