"""What travels between the host-side dispatcher and a job in its sandbox.

In: one JSON object on stdin (`JobPayload`). Out: one JSON object per line on the job's stdout, each with an
`event`:

    {"event": "progress", "fraction": 0.4, "message": "step 2/5", "metrics": {"loss": 0.6}}
    {"event": "result", "result": {...}}          the job succeeded (paths in it are workspace-relative)
    {"event": "failed", "error": "ValueError: ..."}
    {"event": "cancelled"}

Everything else the job (or a library it calls) prints goes to `runs/<job id>/log.txt`, not to this stream.
The host treats every line as untrusted data: size-capped, validated, and written to the database by the host.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import IO, Any

EVENTS = ("progress", "result", "failed", "cancelled")
MAX_LINE_BYTES = 1 << 20
"""The host drops longer lines; a result is small (predictions go to files)."""


@dataclass(frozen=True)
class JobPayload:
    job_id: str
    agent: str
    kind: str
    target: str
    """`trainer.jobs.<module>:<function>` of a registered job kind (`JobKind.target`); nothing else is run."""
    args: dict[str, Any]
    run_dir: str
    """Relative to the workspace, e.g. `runs/train-0123abcd`."""
    attempt: int = 1

    def dumps(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def loads(cls, data: bytes) -> JobPayload:
        raw = json.loads(data)
        if not isinstance(raw, dict):
            raise TypeError("job payload must be a JSON object")
        return cls(**{key: raw[key] for key in ("job_id", "agent", "kind", "target", "args", "run_dir")},
                   attempt=int(raw.get("attempt", 1)))


def finite(value: Any) -> Any:
    """JSON-safe copy: NaN and infinities become None (strict JSON has no spelling for them)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    if hasattr(value, "item"):  # numpy scalars
        return finite(value.item())
    return str(value)


class EventWriter:
    """Writes events to the stream the host reads (a dup of the original stdout, line-buffered)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def emit(self, event: str, **fields: Any) -> None:
        line = json.dumps(finite({"event": event, **fields}), default=str, allow_nan=False)
        try:
            self.stream.write(line + "\n")
            self.stream.flush()
        except (BrokenPipeError, ValueError):
            pass  # the dispatcher is gone; the parent watchdog ends the job
