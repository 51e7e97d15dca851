from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fastmcp import Client
from fastmcp.client.transports import StdioTransport

from mcp_servers.core import TokenStore, build_parser

REPO = Path(__file__).resolve().parents[3]


def test_parser_defaults() -> None:
    args = build_parser("grader").parse_args(["--transport", "http", "--port", "9"])
    assert (args.transport, args.host, args.port) == ("http", "127.0.0.1", 9)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def test_stdio_without_or_with_bad_token_exits_2(state: Path) -> None:
    for extra in ({}, {"W2S_TOKEN": "w2s_bogus"}):
        done = subprocess.run([sys.executable, "-m", "mcp_servers.grader", "--transport", "stdio"], cwd=REPO,
                              env=_env() | extra, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                              check=False)
        assert done.returncode == 2 and "W2S_TOKEN" in done.stderr


def test_a_bad_setting_exits_2_with_its_message(state: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "mcp_servers.grader", "--transport", "http", "--port", "1"],
                          cwd=REPO, env=_env() | {"W2S_CORS_ORIGINS": "http://localhost:6274,*"}, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("error: cors_origins: cors_origins (W2S_CORS_ORIGINS) refuses '*'")


async def test_stdio_identity_from_env_token(state: Path) -> None:
    token = TokenStore(state / "tokens.db").mint("stdio-agent", ["grader"])
    transport = StdioTransport(sys.executable, ["-m", "mcp_servers.grader", "--transport", "stdio"],
                               env=_env() | {"W2S_TOKEN": token}, cwd=str(REPO))
    async with Client(transport) as client:
        result = await client.call_tool("list_datasets", {})
    assert result.structured_content == {"result": []}
