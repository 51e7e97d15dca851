"""The job runner shared by the train and predict servers: jobs in SQLite, one sandbox per running job (under the
requesting agent's policy), one per slot, round-robin across agents, per-agent quotas, idempotency keys, and leases:
every live dispatcher takes back a job whose dispatcher is gone. Job bodies live in `trainer.jobs` and run inside
the sandbox.

This is the package's public API: a compute server is `build_compute(name, settings, instructions, local_token)`
(a `ServerApp[ComputeService]` with the job tools) plus its own tools, and reads an agent's files with
`read_workspace_file` / `check_workspace_file`. Nothing outside this package imports its private modules.
`RayJobRunner` is imported on first use (it imports ray).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcp_servers._lazy import lazy_exports
from mcp_servers.jobs._compute import ComputeService, build_compute
from mcp_servers.jobs._lease import LEASE_S, LeaseHolder
from mcp_servers.jobs._models import JobRow, JobState, JobView
from mcp_servers.jobs._queue import JobError, JobQueue, Quotas
from mcp_servers.jobs._runner import JobRunner, visible_gpus
from mcp_servers.jobs._runners import make_runner
from mcp_servers.jobs._sandboxed import JobSandbox
from mcp_servers.jobs._settings import ComputeSettings
from mcp_servers.jobs._workspace import check_workspace_file, read_workspace_file, relative_path
from trainer.jobs import JobCancelled, JobContext

if TYPE_CHECKING:
    from mcp_servers.jobs._ray import RayJobRunner

__all__ = [
    "LEASE_S",
    "ComputeService",
    "ComputeSettings",
    "JobCancelled",
    "JobContext",
    "JobError",
    "JobQueue",
    "JobRow",
    "JobRunner",
    "JobSandbox",
    "JobState",
    "JobView",
    "LeaseHolder",
    "Quotas",
    "RayJobRunner",
    "build_compute",
    "check_workspace_file",
    "make_runner",
    "read_workspace_file",
    "relative_path",
    "visible_gpus",
]


__getattr__ = lazy_exports(__name__, {"RayJobRunner": "mcp_servers.jobs._ray"})  # Ray only when asked for
