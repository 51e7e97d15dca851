"""The job runner shared by the train and predict servers: jobs in SQLite, one sandbox per running job (under the
requesting agent's policy), one per slot, round-robin across agents, per-agent quotas, idempotency keys, and leases:
every live dispatcher takes back a job whose dispatcher is gone. Job bodies live in `trainer.jobs` and run inside
the sandbox."""

from mcp_servers.jobs._lease import LEASE_S, LeaseHolder
from mcp_servers.jobs._models import JobRow, JobState, JobView
from mcp_servers.jobs._queue import JobError, JobQueue, Quotas
from mcp_servers.jobs._runner import JobRunner, visible_gpus
from mcp_servers.jobs._sandboxed import JobSandbox
from trainer.jobs import JobCancelled, JobContext

__all__ = [
    "LEASE_S",
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
    "visible_gpus",
]
