"""Job bodies that run INSIDE a sandbox (`python -I -m trainer.jobs`, code from a read-only bind).

The compute servers (mcp_servers/train, mcp_servers/predict) queue a job and start one sandbox per job under the
requesting agent's policy: its workspace read-write, public data, models and artifacts read-only, nothing
private, no network. The job gets its spec on stdin and answers with JSON lines on stdout (see `_protocol`); it
never touches the jobs database, and it writes only into its own `runs/<job id>/` of the workspace.
"""

from trainer.jobs._artifacts import OWN_ARTIFACTS
from trainer.jobs._context import JobCancelled, JobContext
from trainer.jobs._kinds import JOB_KINDS, JobFn, JobKind, job_kind, register_job_kind
from trainer.jobs._protocol import EVENTS, MAX_LINE_BYTES, JobPayload

__all__ = ["EVENTS", "JOB_KINDS", "MAX_LINE_BYTES", "OWN_ARTIFACTS", "JobCancelled", "JobContext", "JobFn", "JobKind",
           "JobPayload", "job_kind", "register_job_kind"]
