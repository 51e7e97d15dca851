"""Progress of trainer runs, read from the metrics JSONL files they write (the trainer knows nothing of jobs)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Self

from trainer.jobs._context import JobContext


class MetricsWatcher:
    """Polls `<run_dir>/**/metrics.jsonl` and reports the newest line as the job's metrics and message.

    For runs whose total length the job cannot know in advance (an idea trains several models in turn), so the
    fraction stays where the job last set it; the message says which model is at which step.
    """

    def __init__(self, ctx: JobContext, interval_s: float = 1.0) -> None:
        self.ctx, self.interval_s = ctx, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="metrics-watcher")
        self._seen: dict[Path, int] = {}

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _latest(self) -> tuple[Path, dict[str, Any]] | None:
        newest: tuple[float, Path] | None = None
        for path in self.ctx.run_dir.rglob("metrics.jsonl"):
            mtime = path.stat().st_mtime
            if newest is None or mtime > newest[0]:
                newest = (mtime, path)
        if newest is None:
            return None
        lines = newest[1].read_text(encoding="utf-8", errors="replace").splitlines()
        for line in reversed(lines):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line still being written
            if isinstance(record, dict) and "step" in record:
                return newest[1], record
        return None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                found = self._latest()
            except OSError:
                continue
            if found is None:
                continue
            path, record = found
            if self._seen.get(path) == record.get("step"):
                continue
            self._seen[path] = record.get("step")
            where = path.parent.relative_to(self.ctx.run_dir) if path.parent != self.ctx.run_dir else Path(".")
            loss = record.get("loss")
            loss_text = f"{loss:.4f}" if isinstance(loss, int | float) else "n/a"
            self.ctx.progress(self.ctx.last_fraction, f"{where}: step {record['step']}, loss {loss_text}",
                              {k: v for k, v in record.items() if isinstance(v, int | float)})
