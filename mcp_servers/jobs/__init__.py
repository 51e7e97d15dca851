"""The job runner shared by the train and predict servers: jobs in SQLite, worker processes, one per slot,
round-robin across agents, per-agent quotas, and recovery of jobs a restart interrupted."""

from mcp_servers.jobs._context import JobCancelled, JobContext
from mcp_servers.jobs._kinds import job_kinds, load_job_function, register_job_kind
from mcp_servers.jobs._models import JobRow, JobState, JobView
from mcp_servers.jobs._queue import JobError, JobQueue, Quotas
from mcp_servers.jobs._runner import JobRunner, visible_gpus

__all__ = [
    "JobCancelled",
    "JobContext",
    "JobError",
    "JobQueue",
    "JobRow",
    "JobRunner",
    "JobState",
    "JobView",
    "Quotas",
    "job_kinds",
    "load_job_function",
    "register_job_kind",
    "visible_gpus",
]
