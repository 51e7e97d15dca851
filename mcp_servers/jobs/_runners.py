"""Job runner backends by name (`W2S_COMPUTE_BACKEND`): adding one is adding a module with a `runner(queue,
settings)` factory and a line here. Modules are imported only when chosen, so `local` never imports ray."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from mcp_servers.jobs._queue import JobQueue
from mcp_servers.jobs._runner import JobRunner

if TYPE_CHECKING:
    from mcp_servers.jobs._settings import ComputeSettings

RUNNER_BACKENDS: dict[str, str] = {
    "local": "mcp_servers.jobs._runners",
    "ray": "mcp_servers.jobs._ray",
}
"""Backend name -> module whose `runner(queue, settings)` builds an unstarted runner."""


def runner(queue: JobQueue, settings: ComputeSettings) -> JobRunner:
    """The local runner: sandboxes on this host, one per slot."""
    return JobRunner(queue, settings.job_sandbox(), slots=settings.slots)


def make_runner(queue: JobQueue, settings: ComputeSettings) -> JobRunner:
    name = settings.compute_backend
    if name not in RUNNER_BACKENDS:
        raise ValueError(f"unknown compute backend {name!r} (W2S_COMPUTE_BACKEND); use one of "
                         f"{', '.join(sorted(RUNNER_BACKENDS))}")
    try:
        module = importlib.import_module(RUNNER_BACKENDS[name])
    except ImportError as exc:
        raise ValueError(f"compute backend {name!r} needs an extra that is not installed "
                         f"(pip install 'w2s-lab[{name}]'): {exc}") from exc
    built: JobRunner = module.runner(queue, settings)
    return built
