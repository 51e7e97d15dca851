"""The evolve agent's state and the helpers every part of it uses: time left, the notebook, guarded awaits."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from orchestrator.agents.evolve._client import Tools
from orchestrator.agents.evolve._evolution import Evolver
from orchestrator.agents.evolve._notebook import Notebook, Trial
from orchestrator.agents.evolve._settings import LORA_GENES, Settings, tier_overrides

T = TypeVar("T")


class Stopped(Exception):
    """The deadline or a SIGTERM: wind down."""


class AgentState:
    """What the search loop, its experiments and its submissions share: settings, tools, notebook, progress."""

    def __init__(self, settings: Settings, tools: Tools, emit: Callable[..., None]) -> None:
        self.s, self.tools, self.emit = settings, tools, emit
        self.stop = asyncio.Event()
        self.book = Notebook(settings.dataset, settings.direction, settings.seed)
        self.screen_extra, self.confirm_extra = tier_overrides(settings.preset, settings.screen_steps)
        head = self.screen_extra.get("strong.tier") == "head"
        self.evolver = Evolver(settings.dataset, settings.seed, settings.direction,
                               frozen=LORA_GENES if head else frozenset())
        self.same_tier = self.screen_extra == self.confirm_extra
        self.durations: dict[str, float] = {}
        self.queue: list[Trial] = []
        self.initial_left = 0
        self.confirmed: dict[str, Trial] = {}
        self.best_submitted = -math.inf
        self.best: dict[str, Any] | None = None
        """Best improving submission: submission_id, pgr, accuracy, genome."""
        self.pending: Trial | None = None
        self.retry_at, self.backoff = 0.0, 30.0
        self.can_submit = True
        self.counts = {"submissions": 0, "findings": 0, "snapshots": 0}
        self.shared_seen: set[str] = set()
        self.failures = 0
        """Consecutive failed experiments: a broken setup is waited out with back-off instead of spun on."""
        self.label_targets: list[int] | None = None
        self.label_groups: list[str | None] = []
        self.test_groups: list[str | None] = []

    def remaining(self) -> float:
        return self.s.until - self.s.margin_s - time.time()

    def log(self, message: str) -> None:
        self.book.note(message)
        self.emit("log", message=message)

    def save(self) -> None:
        try:
            self.book.write(self.s.workdir)
        except OSError as exc:
            self.emit("log", message=f"could not write NOTEBOOK.md: {exc}")

    async def guarded(self, awaitable: Awaitable[T]) -> T:
        """Await, unless the deadline passes or `stop` is set first (then the call is abandoned)."""
        task = asyncio.ensure_future(awaitable)
        stopper = asyncio.ensure_future(self.stop.wait())
        done, _ = await asyncio.wait({task, stopper}, timeout=max(0.0, self.remaining()),
                                     return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if task in done:
            return task.result()
        task.cancel()
        raise Stopped
