"""Job runner backends by name (`W2S_COMPUTE_BACKEND`), in the generic registry.

An entry is a factory `(queue, settings) -> JobRunner` (unstarted). A backend that needs an extra keeps its code
in its own module and registers a factory here that imports that module when called, so choosing `local` never
imports ray: package discovery would import every backend's extra on the first read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from mcp_servers.jobs._queue import JobQueue
from mcp_servers.jobs._runner import JobRunner
from trainer.registry import Registry

if TYPE_CHECKING:
    from mcp_servers.jobs._settings import ComputeSettings

RunnerFactory = Callable[[JobQueue, "ComputeSettings"], JobRunner]
RUNNER_BACKENDS: Registry[RunnerFactory] = Registry("compute backend")


@RUNNER_BACKENDS.register("local")
def local_runner(queue: JobQueue, settings: ComputeSettings) -> JobRunner:
    """Sandboxes on this host, one per slot."""
    return JobRunner(queue, settings.job_sandbox(), slots=settings.slots)


@RUNNER_BACKENDS.register("ray")
def ray_runner(queue: JobQueue, settings: ComputeSettings) -> JobRunner:
    """One Ray task per job on the cluster at `W2S_RAY_ADDRESS` (the `ray` extra)."""
    try:
        from mcp_servers.jobs._ray import runner
    except ImportError as exc:
        raise ValueError(f"compute backend 'ray' needs an extra that is not installed (pip install 'w2s-lab[ray]'): "
                         f"{exc}") from exc
    return runner(queue, settings)


def make_runner(queue: JobQueue, settings: ComputeSettings) -> JobRunner:
    """The unstarted runner of the backend `settings.compute_backend` names; an unknown name lists the others."""
    name = settings.compute_backend
    if name not in RUNNER_BACKENDS:
        raise ValueError(f"{RUNNER_BACKENDS.unknown(name)} (W2S_COMPUTE_BACKEND)")
    return RUNNER_BACKENDS.get(name)(queue, settings)
