"""Tool errors that say what was wrong and what to send instead.

Raise `tool_error(...)` from a tool: the client gets an MCP tool error (isError) with that text and nothing is
stored. Messages never echo hidden data (labels, other agents' records).
"""

from __future__ import annotations

from fastmcp.exceptions import ToolError


def tool_error(problem: str, fix: str | None = None) -> ToolError:
    """`problem` says what was wrong; `fix` what to send instead (both short, one sentence each)."""
    text = problem.rstrip(". ") + "."
    if fix:
        text += " " + fix.rstrip(". ") + "."
    return ToolError(text)


__all__ = ["ToolError", "tool_error"]
