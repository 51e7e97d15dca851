"""Refusals that say what was wrong and what to send instead.

Service code raises `RefusedError(problem, fix)` (or a subclass: GraderError, FindingsError, JobError, ...); a tool
wrapped in `@refusals` turns it into an MCP tool error (isError) with that text, and nothing is stored. Messages never
echo hidden data (labels, other agents' records). A refusal is the caller's mistake, not the server's: it is logged
as one INFO line without a traceback. `ArgumentErrors` (middleware every `ServerApp` installs) does the same for
arguments that fail the input schema, in words that name the tool and the field, never a Python function.
"""

from __future__ import annotations

import errno
import functools
import inspect
import logging
import sqlite3
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import mcp.types as mt
from fastmcp.exceptions import ToolError, ValidationError
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.tools import ToolResult
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.exc import SQLAlchemyError

P = ParamSpec("P")
R = TypeVar("R")
log = logging.getLogger(__name__)

READ_ONLY: dict[str, bool] = {"readOnlyHint": True}
"""Tool annotations of a tool that changes nothing."""
WRITES: dict[str, bool] = {"readOnlyHint": False, "destructiveHint": False, "idempotentHint": False}
"""Tool annotations of a tool that adds a record and deletes nothing."""


def tool_error(problem: str, fix: str | None = None, log_level: int = logging.INFO) -> ToolError:
    """`problem` says what was wrong; `fix` what to send instead (both short, one sentence each). fastmcp logs a
    ToolError as one line at `log_level`, without a traceback (any other exception gets a traceback at ERROR)."""
    text = problem.rstrip(". ") + "."
    if fix:
        text += " " + fix.rstrip(". ") + "."
    return ToolError(text, log_level=log_level)


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
                          "try again after the operator has freed space", log_level=logging.ERROR)
    return tool_error("the server could not complete the request (its database or disk failed) and stored nothing",
                      "try again later; the operator's log has the details", log_level=logging.ERROR)


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


MAX_SHOWN_ERRORS = 5
INT64 = (-(2**63), 2**63 - 1)
"""What SQLite stores as an INTEGER."""
MAX_SHOWN_INPUT = 60


def argument_error_text(tool: str, error: PydanticValidationError) -> str:
    """What was wrong with a call's arguments, per field: pydantic's own text names the Python function behind the
    tool (`call[get_submission_tool]`), a documentation URL and the whole input, none of which helps a client."""
    parts = []
    for detail in error.errors(include_url=False, include_context=False)[:MAX_SHOWN_ERRORS]:
        where = _cut(".".join(str(part) for part in detail["loc"]) or "arguments")  # a key is the caller's too
        text = f"{where}: {detail['msg'][:1].lower()}{detail['msg'][1:]}"
        if detail["type"] not in ("missing", "missing_argument") and "input" in detail:
            text += f" (got {_cut(_shown(detail['input'], repr))})"
        parts.append(text)
    more = error.error_count() - len(parts)
    listed = "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
    return f"invalid arguments for {tool}: {listed}. Send values that match the tool's input schema (tools/list)."


def _cut(text: str) -> str:
    return text if len(text) <= MAX_SHOWN_INPUT else text[:MAX_SHOWN_INPUT] + "..."


def _shown(value: Any, show: Callable[[Any], str]) -> str:
    """`show(value)`, or what it is when Python will not write it out (an integer of more than 4300 digits)."""
    try:
        return show(value)
    except ValueError:
        return f"an integer of {value.bit_length()} bits" if isinstance(value, int) else type(value).__name__


def _out_of_range(value: Any, where: str = "") -> tuple[str, int] | None:
    """The first integer in the arguments that SQLite could not store, with where it is."""
    if isinstance(value, int) and not isinstance(value, bool) and not INT64[0] <= value <= INT64[1]:
        return where or "arguments", value
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _out_of_range(item, f"{where}.{key}" if where else str(key))
        if found is not None:
            return found
    return None


class ArgumentErrors(Middleware):
    """Answer arguments that fail a tool's input schema with `argument_error_text`, logged by fastmcp already as
    one WARNING line without the input. An integer outside SQLite's range is refused here, by its field, for every
    tool (an id of 2**63 would otherwise reach the database and fail there)."""

    async def on_call_tool(self, context: MiddlewareContext[mt.CallToolRequestParams],
                           call_next: CallNext[mt.CallToolRequestParams, ToolResult]) -> ToolResult:
        huge = _out_of_range(context.message.arguments or {})
        if huge is not None:
            log.info("refused a call of %s: an integer out of range", context.message.name)
            got = _cut(_shown(huge[1], str))
            raise ValidationError(f"invalid arguments for {context.message.name}: {_cut(huge[0])}: must be an integer from "
                                  f"{INT64[0]} to {INT64[1]} (got {got}). Send values that match the tool's input "
                                  "schema (tools/list).", log_level=logging.INFO)
        try:
            return await call_next(context)
        except ValidationError as exc:
            cause = exc.__cause__
            if not isinstance(cause, PydanticValidationError):
                raise
            raise ValidationError(argument_error_text(context.message.name, cause),
                                  log_level=logging.WARNING) from None


__all__ = ["READ_ONLY", "WRITES", "ArgumentErrors", "RefusedError", "ToolError", "argument_error_text", "refusals",
           "tool_error"]
