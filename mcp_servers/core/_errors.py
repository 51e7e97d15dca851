"""Refusals that say what was wrong and what to send instead.

Service code raises `RefusedError(problem, fix)` (or a subclass: GraderError, FindingsError, ...); a tool wrapped
in `@refusals` turns it into an MCP tool error (isError) with that text, and nothing is stored. Messages never echo
hidden data (labels, other agents' records).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from fastmcp.exceptions import ToolError

P = ParamSpec("P")
R = TypeVar("R")

READ_ONLY: dict[str, bool] = {"readOnlyHint": True}
"""Tool annotations of a tool that changes nothing."""
WRITES: dict[str, bool] = {"readOnlyHint": False, "destructiveHint": False, "idempotentHint": False}
"""Tool annotations of a tool that adds a record and deletes nothing."""


def tool_error(problem: str, fix: str | None = None) -> ToolError:
    """`problem` says what was wrong; `fix` what to send instead (both short, one sentence each)."""
    text = problem.rstrip(". ") + "."
    if fix:
        text += " " + fix.rstrip(". ") + "."
    return ToolError(text)


class RefusedError(ValueError):
    """A refused request; `problem` says what was wrong and `fix` what to send instead."""

    def __init__(self, problem: str, fix: str | None = None) -> None:
        super().__init__(problem if not fix else f"{problem}; {fix}")
        self.problem, self.fix = problem, fix


def refusals(fn: Callable[P, R]) -> Callable[P, R]:
    """Wrap a tool (sync or async) so a `RefusedError` reaches the client as a tool error that says what to send."""
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            try:
                return await fn(*args, **kwargs)  # type: ignore[misc]
            except RefusedError as exc:
                raise tool_error(exc.problem, exc.fix) from None

        return async_wrapper  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except RefusedError as exc:
            raise tool_error(exc.problem, exc.fix) from None

    return wrapper


__all__ = ["READ_ONLY", "WRITES", "RefusedError", "ToolError", "refusals", "tool_error"]
