"""One agent as the launch sees it: its sandbox spec, its current session, and what its output says.

The agent program runs inside the sandbox; its stdout (one JSON object per line) is read here, on the host, and
appended to the session's transcript under the state dir (never in the workspace, where the agent could edit
it). Transcript lines are `{"at": unix_ts, "event": <the agent's object>}` or `{"at": ..., "raw": "<text>"}`; every
value is the agent's data and is never interpreted beyond counting tool calls and reading a few fields.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator._db import StateDB
from sandbox import Backend, SandboxHandle, SandboxSpec

MAX_LINE = 1 << 20
MAX_TRANSCRIPT = 512 << 20
"""A session's transcript stops growing here (an agent printing without end must not fill the operator's disk)."""


@dataclass
class SessionResult:
    exit_code: int | None
    reason: str
    cost_usd: float | None = None
    num_turns: int | None = None
    budget_spent: bool = False


@dataclass
class AgentProc:
    name: str
    kind: str
    direction: str
    spec: SandboxSpec
    launch_id: str
    transcript_dir: Path
    stdin: bytes | None = None
    handle: SandboxHandle | None = None
    session_id: int | None = None
    sessions: int = 0
    first_tool_call_at: float | None = None
    tool_calls: int = 0
    last_error: str | None = None
    last_result: dict[str, Any] = field(default_factory=dict)
    _reader: threading.Thread | None = None

    def start(self, backend: Backend, db: StateDB, stdin: bytes | None = None) -> None:
        self.sessions += 1
        self.last_error, self.last_result = None, {}
        self.transcript_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        transcript = self.transcript_dir / f"session-{self.sessions:03d}.jsonl"
        self.session_id = db.open_session(self.name, self.launch_id, str(transcript))
        self.handle = backend.start(self.spec, stdin=stdin if stdin is not None else self.stdin)
        self._reader = threading.Thread(target=self._read, args=(self.handle, transcript), daemon=True,
                                        name=f"read-{self.name}")
        self._reader.start()

    @property
    def pid(self) -> int | None:
        return getattr(self.handle, "pid", None)

    def poll(self) -> int | None:
        return None if self.handle is None else self.handle.poll()

    def stop(self, grace_s: float = 10.0) -> int | None:
        return None if self.handle is None else self.handle.stop(grace_s=grace_s)

    def finish(self, code: int | None) -> SessionResult:
        """What ended the session, once the process is gone (the reader drains the rest of stdout first)."""
        if self._reader is not None:
            self._reader.join(timeout=10)
        result = self.last_result
        if code is not None and code < 0:
            name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
            reason = f"killed by {name}"
        elif self.last_error:
            reason = self.last_error
        elif result.get("is_error"):
            reason = f"session ended in error ({result.get('subtype', '?')})"
        elif code == 0:
            reason = "finished"
        else:
            tail = ""
            if self.handle is not None and hasattr(self.handle, "stderr_text"):
                tail = self.handle.stderr_text().decode(errors="replace").strip()[-300:]  # type: ignore[attr-defined]
            reason = f"exit status {code}" + (f": {tail}" if tail else "")
        spent = "budget" in reason.lower() and "spent" in reason.lower() or result.get("subtype") == \
            "error_max_budget_usd"
        return SessionResult(code, _printable(reason[:1000]), result.get("cost_usd"), result.get("num_turns"), spent)

    def _read(self, handle: SandboxHandle, transcript: Path) -> None:
        written = 0
        with transcript.open("ab") as out:
            for raw in handle.lines():
                line = raw[:MAX_LINE].rstrip(b"\n")
                now = time.time()
                try:
                    event: Any = json.loads(line)
                except ValueError:
                    event = None
                record = {"at": now, "event": event} if isinstance(event, dict) else {
                    "at": now, "raw": line.decode(errors="replace")}
                if isinstance(event, dict):
                    self._observe(event, now)
                data = json.dumps(record).encode() + b"\n"
                if written + len(data) <= MAX_TRANSCRIPT:
                    out.write(data)
                    out.flush()
                    written += len(data)

    def _observe(self, event: dict[str, Any], now: float) -> None:
        kind = event.get("event")
        if kind == "tool_call" or (kind == "message" and _is_tool_use(event.get("message"))):
            self.tool_calls += 1
            if self.first_tool_call_at is None:
                self.first_tool_call_at = now
        elif kind == "error" and isinstance(event.get("reason"), str):
            self.last_error = event["reason"][:1000]
        elif kind == "result":
            self.last_result = {k: event.get(k) for k in ("subtype", "is_error", "num_turns", "cost_usd")}


def _printable(text: str) -> str:
    """The agent's words (its error event, its stderr) as the operator's terminal may show them: control characters,
    escape codes among them, written out as escapes."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _is_tool_use(message: object) -> bool:
    if not isinstance(message, dict) or message.get("type") != "AssistantMessage":
        return False
    content = message.get("content")
    return isinstance(content, list) and any(isinstance(b, dict) and "name" in b and "input" in b for b in content)
