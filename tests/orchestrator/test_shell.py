"""`orchestrator shell AGENT`: a shell inside the agent's bwrap sandbox where the bundled claude CLI runs, with a
token of its own in `.mcp.json` that dies with the shell."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mcp_servers.core import ServerSettings, TokenStore
from mcp_servers.grader.datasets._build import build_testbed
from orchestrator._services import Service, save_record
from tests.mcp_servers.server_helpers import REPO, ServerProcess, free_port
from tests.orchestrator.launch_helpers import cli_env
from trainer import paths

SCRIPT = """echo "agent=$W2S_AGENT_ID user=$(id -un) home=$HOME"
"$W2S_CLAUDE" --version
test -r .mcp.json && echo mcp-readable
ls /w2s
ls {private} 2>/dev/null || echo no-operator-home
exit 0
"""


def test_shell_is_sandboxed_and_its_token_dies_with_it(w2s_home: Path) -> None:
    build_testbed("sentiment", "tiny", seed=0)
    nothing = subprocess.run([sys.executable, "-m", "orchestrator.cli", "shell", "alice"], input="exit\n", text=True,
                             capture_output=True, cwd=REPO, env=cli_env(), timeout=120, check=False)
    assert nothing.returncode == 2 and "no running servers" in nothing.stdout
    grader = ServerProcess("mcp_servers.grader", w2s_home, free_port(), W2S_LITESTREAM="false").start()
    try:
        assert grader.proc is not None
        save_record([Service("grader", grader.port, grader.proc.pid)], {})
        done = subprocess.run([sys.executable, "-m", "orchestrator.cli", "shell", "alice"], input=SCRIPT.format(private=paths().label_store_dir), text=True,
                              capture_output=True, cwd=REPO, env=cli_env(), timeout=180, check=False)
    finally:
        grader.stop()
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "agent=alice" in out and "home=/w2s/workspace/.home" in out and "user=root" not in out, out
    assert "(Claude Code)" in out and "mcp-readable" in out and "no-operator-home" in out, out + done.stderr
    assert "workspace" in out and "private" not in out
    config = json.loads((paths().workspaces_dir / "alice" / ".mcp.json").read_text())
    token = config["mcpServers"]["grader"]["headers"]["Authorization"].removeprefix("Bearer ")
    assert TokenStore(ServerSettings().tokens_db).verify(token) is None  # revoked when the shell ended
