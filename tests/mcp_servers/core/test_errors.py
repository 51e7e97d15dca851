import errno
import importlib
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastmcp import Client, FastMCP
from pydantic import BaseModel, Field, TypeAdapter
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.exc import OperationalError

from mcp_servers.core import RefusedError, TokenStore, ToolError, refusals, tool_error
from mcp_servers.core._errors import ArgumentErrors, argument_error_text


def test_tool_error_says_problem_and_fix() -> None:
    error = tool_error("prediction 3 is 2", "send 0/1 or a probability")
    assert isinstance(error, ToolError) and str(error) == "prediction 3 is 2. send 0/1 or a probability."


def test_server_faults_answer_without_sql_or_paths() -> None:
    faults: list[BaseException] = [
        OperationalError("INSERT INTO submission (agent, idea) VALUES (?, ?)", ("a", "b"),
                         sqlite3.OperationalError("disk I/O error")),
        OverflowError("Python int too large to convert to SQLite INTEGER"),
        OSError(errno.ENOSPC, "No space left on device", "/srv/w2s/private/state/snapshots/blob.tmp"),
        FileNotFoundError(errno.ENOENT, "No such file", "/srv/w2s/workspaces/alice/runs/x"),
    ]
    for fault in faults:

        @refusals
        def tool(fault: BaseException = fault) -> None:
            raise fault

        with pytest.raises(ToolError) as caught:
            tool()
        text = str(caught.value)
        assert "INSERT" not in text and "SQLite" not in text and "/srv" not in text, text
    assert "disk is full" in _message(OSError(errno.ENOSPC, "full"))
    assert "2**63" in _message(OverflowError("too large"))


async def test_async_tools_are_wrapped_too() -> None:

    @refusals
    async def tool() -> None:
        raise sqlite3.DatabaseError("database disk image is malformed: page 7 of table submission")

    with pytest.raises(ToolError) as caught:
        await tool()
    assert "malformed" not in str(caught.value) and "stored nothing" in str(caught.value)


def _message(fault: BaseException) -> str:

    @refusals
    def tool() -> None:
        raise fault

    try:
        tool()
    except ToolError as exc:
        return str(exc)
    raise AssertionError("no tool error")


class Refused(RefusedError):
    """A service's own refusal type, as GraderError or JobError."""


def _server() -> FastMCP:
    """A FastMCP server as `ServerApp` builds one (`ArgumentErrors` installed), with a tool whose Python name is not
    its tool name, as the grader's `get_submission_tool` is, and an id without an upper bound (as findings' ids)."""
    mcp = FastMCP("errors", middleware=[ArgumentErrors()])
    calls: list[int] = []
    mcp.calls = calls  # type: ignore[attr-defined]

    class Page(BaseModel):
        offset: int = Field(ge=0, le=2**63 - 1)

    @mcp.tool(name="get_submission")
    @refusals
    def get_submission_tool(submission_id: Annotated[int, Field(ge=1)], page: Page | None = None,
                            tags: list[int] | None = None) -> int:
        calls.append(submission_id)
        if submission_id == 7:
            raise Refused("submission 7 is not yours", "list your own with list_submissions")
        if submission_id == 8:
            raise sqlite3.OperationalError("disk I/O error")
        return submission_id

    return mcp


@pytest.fixture
def server_log() -> Iterator[list[logging.LogRecord]]:
    """Records of fastmcp's and our loggers (fastmcp's do not propagate to the root, so caplog misses them)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append  # type: ignore[method-assign]
    loggers = [logging.getLogger("fastmcp"), logging.getLogger("mcp_servers")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    yield records
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.mark.parametrize(("args", "expected"), [
    ({"submission_id": 2**62, "page": {"offset": 2**63 - 1 + 1}}, ("page.offset: must be an integer from "
                                                                 "-9223372036854775808 to 9223372036854775807 "
                                                                 "(got 9223372036854775808)")),
    ({"submission_id": 2**62, "tags": [1, -(2**70)]}, "tags.1: must be an integer from"),
    ({"submission_id": 10**200}, "(got 100000000000000000000000000000000000000000000000000000000000...)"),
    # past Python's 4300-digit limit on writing an integer out: refused by its field, not an internal error
    ({"submission_id": 10**5000}, "submission_id: must be an integer from"),
    ({"submission_id": 1, "tags": [-(10**5000)]}, "(got an integer of 16610 bits)"),
    ({"submission_id": 1, "k" * 100_000: 1}, "kkkkkkkkkk...: unexpected keyword argument"),  # a key shown cut
    ({"submission_id": 1, "page": {"offset": -1}}, "page.offset: input should be greater than or equal to 0"),
    ({"submission_id": "x" * 500}, "(got 'xxxxxxxxx"),
    ({"submission_id": "a\x00b"}, "(got 'a\\x00b')"),
    ({}, "submission_id: missing required argument"),
    ({"submission_id": 1, "extra": 1}, "extra: unexpected keyword argument"),
    ({"submission_id": 1, "tags": ["a"] * 9}, "tags.4: input should be a valid integer"),
])
async def test_argument_errors_name_the_tool_and_field_never_the_function(args: dict, expected: str) -> None:
    server = _server()
    async with Client(server) as client:
        with pytest.raises(ToolError) as caught:
            await client.call_tool("get_submission", args)
    assert server.calls == []  # type: ignore[attr-defined]  # refused before the tool ran
    text = str(caught.value)
    assert text.startswith("invalid arguments for get_submission: ") and expected in text, text
    assert text.endswith("Send values that match the tool's input schema (tools/list).")
    for internal in ("get_submission_tool", "call[", "pydantic", "validation error for", "x" * 100):
        assert internal not in text, text
    if "tags" in args and len(args["tags"]) == 9:
        assert "and 4 more" in text


def test_argument_error_text_counts_what_it_leaves_out() -> None:
    with pytest.raises(PydanticValidationError) as caught:
        TypeAdapter(list[int]).validate_python(["a"] * 12)
    text = argument_error_text("t", caught.value)
    assert text.count("input should be a valid integer") == 5 and "and 7 more" in text


async def test_a_refusal_is_one_info_line_and_a_fault_one_traceback(server_log: list[logging.LogRecord]) -> None:
    async with Client(_server()) as client:
        with pytest.raises(ToolError) as refused:
            await client.call_tool("get_submission", {"submission_id": 7})
        assert str(refused.value) == "submission 7 is not yours. list your own with list_submissions."
        assert [(r.levelno, bool(r.exc_info)) for r in server_log] == [(logging.INFO, False)]
        server_log.clear()
        with pytest.raises(ToolError) as failed:
            await client.call_tool("get_submission", {"submission_id": 8})
    assert "disk I/O" not in str(failed.value) and "stored nothing" in str(failed.value)
    traced = [r for r in server_log if r.exc_info]  # the operator's log has the details, once
    assert len(traced) == 1 and traced[0].levelno == logging.ERROR


@pytest.mark.parametrize("server", ["findings", "grader", "predict", "snapshot", "train"])
async def test_every_tool_of_every_server_answers_argument_errors_in_words(
        server: str, state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("W2S_SANDBOX", "none")  # no job runs here: a compute server's runner only has to start
    token = TokenStore(state / "tokens.db").mint("alice", [server])
    app = importlib.import_module(f"mcp_servers.{server}").build_server(local_token=token)
    try:
        assert any(isinstance(middleware, ArgumentErrors) for middleware in app.mcp.middleware)
        checked = 0
        async with Client(app.mcp) as client:
            for tool in await client.list_tools():
                with pytest.raises(ToolError) as caught:
                    await client.call_tool(tool.name, {"not_an_argument": 3})
                text = str(caught.value)
                assert text.startswith(f"invalid arguments for {tool.name}: "), text
                assert "not_an_argument: unexpected keyword argument" in text or "more." in text, text
                assert "call[" not in text and "_tool" not in text.replace(tool.name, ""), text
                for name, where, value in _integer_arguments(tool.input_schema):  # ids of 2**63, and the like
                    with pytest.raises(ToolError) as caught:
                        await client.call_tool(tool.name, {name: value})
                    text = str(caught.value)
                    assert f"{where}: " in text and "9223372036854775807" in text, text
                    assert "sqlite" not in text.lower() and "overflow" not in text.lower(), text
                    checked += 1
        assert checked > 0  # every server takes some integer (an id, an offset, a seed, a size)
    finally:
        runner = getattr(app.service, "runner", None)
        if runner is not None:
            runner.stop()


def _integer_arguments(schema: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """(argument, where the error should point, a value one past SQLite's range) for each integer argument."""
    for name, prop in schema.get("properties", {}).items():
        for option in prop.get("anyOf", [prop]):
            if option.get("type") == "integer":
                yield name, name, 2**63
            elif option.get("type") == "array" and option.get("items", {}).get("type") == "integer":
                yield name, f"{name}.0", [2**63]


def test_argument_error_text_shows_an_integer_python_will_not_write_out() -> None:
    with pytest.raises(PydanticValidationError) as caught:
        TypeAdapter(str).validate_python(10**5000)
    assert "(got an integer of 16610 bits)" in argument_error_text("t", caught.value)
