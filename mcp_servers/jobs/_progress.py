"""Progress of trainer runs, read from the metrics JSONL files they write (the trainer knows nothing of jobs)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from mcp_servers.jobs._context import JobContext


class MetricsWatcher:
    """Polls `<run_dir>/**/metrics.jsonl` and reports the newest line as the job's metrics and progress.

    Progress is the line's `epoch` over `epochs` when both are known (capped below 1: the job itself reports done).
    """

    def __init__(self, ctx: JobContext, epochs: float | None = None, interval_s: float = 1.0,
                 span: tuple[float, float] = (0.0, 0.95)) -> None:
        self.ctx, self.epochs, self.interval_s, self.span = ctx, epochs, interval_s, span
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="metrics-watcher")
        self._seen: dict[Path, int] = {}

    def __enter__(self) -> MetricsWatcher:
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
            low, high = self.span
            fraction = low
            if self.epochs and "epoch" in record:
                fraction = low + (high - low) * min(1.0, float(record["epoch"]) / self.epochs)
            where = path.parent.relative_to(self.ctx.run_dir) if path.parent != self.ctx.run_dir else Path(".")
            self.ctx.progress(fraction, f"{where}: step {record['step']}, loss {record.get('loss', float('nan')):.4f}",
                              {k: v for k, v in record.items() if isinstance(v, int | float)})
