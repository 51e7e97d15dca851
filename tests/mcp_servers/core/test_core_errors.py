import errno
import sqlite3

import pytest
from sqlalchemy.exc import OperationalError

from mcp_servers.core import ToolError, refusals, tool_error


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
