"""Reading what a job wrote, on the host: every line is untrusted data (a job runs as its agent, and an agent that
gets code into its own job can print anything). Event lines are size-capped, validated and bounded before any of
it reaches the database; log text is shown as a person reads it (`readable_log`)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from sandbox import SandboxHandle
from trainer.jobs import MAX_LINE_BYTES

MAX_METRICS = 64
MAX_RESULT_BYTES = 256 * 1024


class Progress(BaseModel):
    event: Literal["progress"]
    fraction: float = Field(ge=0.0, le=1.0)
    message: str = ""
    metrics: dict[str, Any] = Field(default_factory=dict)


class Result(BaseModel):
    event: Literal["result"]
    result: dict[str, Any]


class Failed(BaseModel):
    event: Literal["failed"]
    error: str


class Cancelled(BaseModel):
    event: Literal["cancelled"]


Event = Annotated[Progress | Result | Failed | Cancelled, Field(discriminator="event")]
_EVENT: TypeAdapter[Progress | Result | Failed | Cancelled] = TypeAdapter(Event)


def parse_event(line: bytes) -> Progress | Result | Failed | Cancelled | None:
    """One validated event, or None for anything else (junk, a partial line, an oversized result)."""
    if len(line) > MAX_LINE_BYTES:
        return None
    try:
        raw = json.loads(line)
        event = _EVENT.validate_python(raw)
    except (ValueError, ValidationError, RecursionError):
        return None
    if isinstance(event, Progress):
        event.message = event.message[:500]
        event.metrics = {str(k)[:64]: v for k, v in list(event.metrics.items())[:MAX_METRICS]
                         if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)}
    elif isinstance(event, Result) and len(json.dumps(event.result)) > MAX_RESULT_BYTES:
        return Failed(event="failed", error=f"the job's result was over {MAX_RESULT_BYTES} bytes (write data to "
                                            "files in the run folder and answer their paths)")
    elif isinstance(event, Failed):
        event.error = event.error[:2000]
    return event


def bounded_lines(handle: SandboxHandle) -> Iterator[bytes]:
    """stdout lines of `handle`, none longer than MAX_LINE_BYTES kept in memory (an endless line is skipped)."""
    process = getattr(handle, "process", None)
    stream = getattr(process, "stdout", None)
    skipping = False
    if stream is None:  # a backend without a local pipe (docker, k8s): its own lines, a long one in pieces
        for line in handle.lines():
            complete = line.endswith(b"\n")
            if not skipping and complete and len(line) <= MAX_LINE_BYTES:
                yield line
            skipping = not complete  # a piece of a longer line: drop the rest of it too
        return
    while True:
        chunk = stream.readline(MAX_LINE_BYTES + 1)
        if not chunk:
            return
        complete = chunk.endswith(b"\n")
        if not skipping and complete:
            yield chunk
        skipping = not complete  # too long: drop the rest of this line too


_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
"""Terminal escape codes: CSI (colours, cursor moves), OSC (titles, links) and two-byte escapes."""
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_PROGRESS_BAR = re.compile(r"\d{1,3}%\|[^|]*\|")
"""A tqdm bar (`Map:  42%|####      | 42/100 [00:01<00:02]`); the job's progress is in the job's answer anyway."""


def readable_log(text: str, lines: int) -> str:
    """The last `lines` lines of a job's log as a terminal would have left them: of a line redrawn with carriage
    returns only its last state, escape codes removed, progress bars dropped (a tqdm bar redrawn a thousand times
    would otherwise fill the whole tail)."""
    kept: list[str] = []
    for raw in text.split("\n"):
        line = _ESCAPE.sub("", raw).rstrip("\r").rsplit("\r", 1)[-1]
        line = _CONTROL.sub("", line).rstrip()
        if not _PROGRESS_BAR.search(line):
            kept.append(line)
    while kept and not kept[-1]:
        kept.pop()
    return "\n".join(kept[-lines:]) if lines > 0 else ""
