"""Refusals that say what was wrong and what to send instead.

Service code raises `RefusedError(problem, fix)` (or a subclass: GraderError, FindingsError, ...); a tool wrapped
in `@refusals` turns it into an MCP tool error (isError) with that text, and nothing is stored. Messages never echo
hidden data (labels, other agents' records).
"""

from __future__ import annotations

import errno
import functools
import inspect
import logging
import sqlite3
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from fastmcp.exceptions import ToolError
from sqlalchemy.exc import SQLAlchemyError

P = ParamSpec("P")
R = TypeVar("R")
log = logging.getLogger(__name__)

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


_CALLER_PATH_ERRNOS = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.ELOOP, errno.EACCES, errno.EPERM,
                                 errno.EXDEV, errno.ENAMETOOLONG})
_OPERATOR_FAULTS: tuple[type[BaseException], ...] = (SQLAlchemyError, sqlite3.Error, OverflowError, OSError)


def _operator_fault(tool: str, exc: BaseException) -> ToolError:
    """A failure that is not the caller's: logged in full for the operator, answered without SQL, paths or
    tracebacks (they describe the host, and a caller cannot fix them)."""
    if isinstance(exc, OverflowError):
        return tool_error("a number in the request is out of range", "send integers between -2**63 and 2**63-1")
    if isinstance(exc, OSError) and exc.errno in _CALLER_PATH_ERRNOS:
        return tool_error("a path in the request does not name a readable regular file in your workspace",
                          "send a workspace-relative path to a regular file (symbolic links are not followed)")
    log.error("tool %s failed on the server side", tool, exc_info=exc)
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return tool_error("the server's disk is full, so nothing was stored",
                          "try again after the operator has freed space")
    return tool_error("the server could not complete the request (its database or disk failed) and stored nothing",
                      "try again later; the operator's log has the details")


def refusals(fn: Callable[P, R]) -> Callable[P, R]:
    """Wrap a tool (sync or async) so a `RefusedError` reaches the client as a tool error that says what to send, and
    a server-side fault (database, disk) as a plain tool error that leaks no SQL or host path."""
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            try:
                return await fn(*args, **kwargs)  # type: ignore[misc]
            except RefusedError as exc:
                raise tool_error(exc.problem, exc.fix) from None
            except _OPERATOR_FAULTS as exc:
                raise _operator_fault(fn.__name__, exc) from None

        return async_wrapper  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except RefusedError as exc:
            raise tool_error(exc.problem, exc.fix) from None
        except _OPERATOR_FAULTS as exc:
            raise _operator_fault(fn.__name__, exc) from None

    return wrapper


__all__ = ["READ_ONLY", "WRITES", "RefusedError", "ToolError", "refusals", "tool_error"]
