from mcp_servers.core import ToolError, tool_error


def test_tool_error_says_problem_and_fix() -> None:
    error = tool_error("prediction 3 is 2", "send 0/1 or a probability")
    assert isinstance(error, ToolError) and str(error) == "prediction 3 is 2. send 0/1 or a probability."
