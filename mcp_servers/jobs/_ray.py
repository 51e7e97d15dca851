"""The Ray backend of the job runner (`W2S_COMPUTE_BACKEND=ray`): the same queue, fairness, states, progress and
cancel as the local runner; only where a job's sandbox starts differs.

The dispatcher stays on the trusted host and alone writes the jobs database. It claims a job when the cluster has
room for it (slots = what the cluster can run at once, so Ray never queues and fairness stays ours), then starts
one Ray task per job with the job's CPUs/GPUs; the task runs the job's sandbox on its node and streams its stdout
lines back (a Ray generator), which the dispatcher validates exactly as it does local lines. Cancel kills the task
(and with it the sandbox). A job whose node or worker dies is requeued while it has attempts left, then failed
with the reason; nothing stays silently `running`.

Only this module (and only when the backend is chosen) imports ray.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import ray
from ray.exceptions import RayError, RayTaskError, TaskCancelledError

from mcp_servers.core import write_session
from mcp_servers.jobs._models import JobRow, JobState
from mcp_servers.jobs._queue import JobQueue
from mcp_servers.jobs._ray_task import EXIT, NODE, run_job
from mcp_servers.jobs._runner import JobRunner, _Running
from mcp_servers.jobs._sandboxed import JobSandbox
from mcp_servers.jobs._settings import ComputeSettings
from trainer.jobs import JobPayload

log = logging.getLogger(__name__)
CAPACITY_EVERY_S = 2.0


class RayJobHandle:
    """A job's Ray task seen as a sandbox handle, so the local runner's reader and recorder apply unchanged."""

    backend = "ray"
    pid = None

    def __init__(self, ref: Any, agent_id: str, on_node: Callable[[str], None] | None = None) -> None:
        self.ref, self.agent_id, self.on_node = ref, agent_id, on_node
        self.node: str | None = None
        self.code: int | None = None
        self.error: str | None = None
        """Why the task ended without an exit status (its node or worker died), None otherwise."""
        self.failure: str | None = None
        """The task raised on its node (not a lost node: retrying would not help)."""
        self.cancelled = False
        self._done = threading.Event()

    def lines(self) -> Iterator[bytes]:
        try:
            for item_ref in self.ref:
                kind, value = ray.get(item_ref)
                if kind == NODE:
                    self.node = str(value)
                    if self.on_node is not None:
                        self.on_node(self.node)
                elif kind == EXIT:
                    self.code = int(value)
                elif isinstance(value, bytes):
                    yield value
        except TaskCancelledError:
            self.cancelled = True
        except RayTaskError as exc:  # the task itself raised on a live node, e.g. the sandbox could not start there
            cause = getattr(exc, "cause", None) or exc
            self.failure = f"the job's Ray task failed on node {self.node or '(unknown)'}: {type(cause).__name__}"
        except RayError as exc:  # node lost, worker killed (OOM, crash), object lost
            self.error = f"Ray node {self.node or '(unknown)'} ({type(exc).__name__})"
        finally:
            self._done.set()

    def poll(self) -> int | None:
        return self.code if self._done.is_set() else None

    def wait(self, timeout: float | None = None) -> int:
        if not self._done.wait(timeout):
            raise TimeoutError
        return self.code if self.code is not None else -1

    def stop(self, grace_s: float = 10.0) -> int:
        """Kill the task's worker; its sandbox dies with it. The job's own cancel event is not awaited: the runner
        records `cancelled` because it asked."""
        self.cancelled = True
        try:
            ray.cancel(self.ref, force=True)
        except (RayError, ValueError, TypeError):
            log.debug("cancel of an ended Ray task", exc_info=True)
        return -1


class _RayJobs:
    """Stands where the runner keeps its JobSandbox: `start` submits the job's Ray task instead of a local sandbox,
    so the runner's claiming, leases, reading, cancel and recording apply unchanged."""

    def __init__(self, runner: RayJobRunner, box: JobSandbox) -> None:
        self.runner, self.box = runner, box

    def backend(self) -> None:
        return None  # resolved on each node, where the sandboxes start

    def start(self, payload: JobPayload, gpu: str | None, backend: object = None) -> RayJobHandle:
        runner = self.runner
        ref = runner.remote_job.remote(self.box, payload, bool(runner.num_gpus))

        def on_node(node: str) -> None:
            runner.queue.set_node(payload.job_id, f"ray:{node}", owner=runner.holder.owner)
            runner.queue.record_progress(payload.job_id, 0.0, f"running on Ray node {node}", {},
                                         owner=runner.holder.owner)

        return RayJobHandle(ref, payload.agent, on_node)


class RayJobRunner(JobRunner):
    def __init__(self, queue: JobQueue, box: JobSandbox, *, address: str | None = None,
                 num_cpus: float = 1.0, num_gpus: float | None = None, slots: int | None = None,
                 poll_s: float = 0.2, lease_s: float | None = None) -> None:
        super().__init__(queue, box, slots=slots or 1, poll_s=poll_s, lease_s=lease_s)
        self.box = _RayJobs(self, box)  # type: ignore[assignment]
        self.node = "ray:(starting)"  # each job's own node is recorded once its task reports it
        self.address, self.num_cpus, self.num_gpus = address, num_cpus, num_gpus
        self._fixed_slots = slots
        self._capacity_at = 0.0
        self.remote_job: Any = None

    def start(self) -> RayJobRunner:
        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False, configure_logging=False)
        if self.num_gpus is None:
            self.num_gpus = 1.0 if ray.cluster_resources().get("GPU", 0) >= 1 else 0.0
        # No Ray-level retries: a lost attempt goes back to our queue, which counts attempts and keeps fairness.
        self.remote_job = ray.remote(run_job).options(
            num_returns="streaming", num_cpus=self.num_cpus, num_gpus=self.num_gpus, max_retries=0)
        self._refresh_capacity(force=True)
        super().start()
        return self

    def capacity(self) -> int:
        """Jobs the cluster's live nodes can run at once with each job's CPUs/GPUs."""
        total = ray.cluster_resources()
        if self.num_gpus:
            return int(total.get("GPU", 0) // self.num_gpus)
        return int(total.get("CPU", 0) // self.num_cpus) if self.num_cpus else 1

    def _refresh_capacity(self, force: bool = False) -> None:
        if self._fixed_slots is not None or (not force and time.monotonic() - self._capacity_at < CAPACITY_EVERY_S):
            return
        self.slots, self._capacity_at = max(0, self.capacity()), time.monotonic()

    def _dispatch(self) -> None:
        # Claim only what the cluster can start now: Ray never queues, so fairness across agents stays ours.
        self._refresh_capacity()
        super()._dispatch()

    def _record(self, job_id: str, running: _Running, code: int | None) -> None:
        handle = running.handle
        if isinstance(handle, RayJobHandle) and running.outcome is None and not running.cancelling:
            if handle.error:
                self._take_back(job_id, handle.error)
                return
            if handle.failure:
                self.queue.finish(job_id, JobState.FAILED, error=handle.failure, owner=self.holder.owner)
                return
        super()._record(job_id, running, code)

    def _take_back(self, job_id: str, reason: str) -> None:
        """A lost attempt (node or worker died): requeued within the job's attempts, else failed with the reason."""
        with write_session(self.engine) as session:
            row = session.get(JobRow, job_id)
            if row is None or row.state != JobState.RUNNING or row.lease_owner != self.holder.owner:
                return
            self.queue._take_back(row, f"{reason[:300]} was lost")
            session.add(row)
        log.warning("job %s: %s was lost", job_id, reason)


def runner(queue: JobQueue, settings: ComputeSettings) -> RayJobRunner:
    """`W2S_COMPUTE_BACKEND=ray`: jobs on the cluster at `W2S_RAY_ADDRESS`."""
    return RayJobRunner(queue, settings.job_sandbox(), address=settings.ray_address, num_cpus=settings.ray_num_cpus,
                        num_gpus=settings.ray_num_gpus, slots=settings.slots)
