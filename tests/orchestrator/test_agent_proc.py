"""What the launch reads from an agent's session: the reason a session ended is the agent's own text (its error
event, its stderr), shown in the operator's terminal."""

from __future__ import annotations

import sys
from pathlib import Path

from orchestrator._agent_proc import AgentProc
from sandbox import SandboxSpec, get_backend

ESCAPES = "\x1b]0;owned\x07\x1b[2J\x9b31m"


def _proc(tmp_path: Path, command: list[str]) -> AgentProc:
    workspace = tmp_path / "ws"
    workspace.mkdir(exist_ok=True)
    spec = SandboxSpec(agent_id="agent_1", workspace=workspace, token="w2s_agentProcTok3nAbcdefghij", command=command)
    return AgentProc(name="agent_1", kind="claude", direction="d", spec=spec, launch_id="l1",
                     transcript_dir=tmp_path / "transcripts")


def test_an_error_event_reaches_the_operator_without_escape_codes(tmp_path: Path) -> None:
    proc = _proc(tmp_path, ["true"])
    proc._observe({"event": "error", "reason": f"budget {ESCAPES}\nfake: finished"}, 0.0)
    reason = proc.finish(1).reason
    assert reason.startswith("budget \\x1b]0;owned\\x07") and "\\n" in reason
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in reason)


def test_a_stderr_tail_reaches_the_operator_without_escape_codes(tmp_path: Path) -> None:
    """A real process (the `none` backend) writing escape codes to stderr and failing."""
    proc = _proc(tmp_path, [sys.executable, "-c", f"import sys; sys.stderr.write({ESCAPES!r} + 'boom'); sys.exit(3)"])
    handle = get_backend("none").start(proc.spec)
    proc.handle = handle
    list(handle.lines())
    reason = proc.finish(handle.wait(timeout=30)).reason
    assert reason.startswith("exit status 3: ") and reason.endswith("boom"), reason
    assert "\x1b" not in reason and "\x07" not in reason and "\x9b" not in reason
