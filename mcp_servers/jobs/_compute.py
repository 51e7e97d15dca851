"""What the train and predict servers share: a ServerApp over the jobs db, a started runner, the job tools."""

from __future__ import annotations

import atexit
from dataclasses import dataclass
from pathlib import Path

from mcp_servers.core import ServerApp, workspace_of
from mcp_servers.jobs._guard import deny_paths
from mcp_servers.jobs._queue import JobQueue
from mcp_servers.jobs._runner import PRELOAD, JobRunner
from mcp_servers.jobs._settings import ComputeSettings
from mcp_servers.jobs._tools import register_job_tools
from trainer import paths


@dataclass
class Compute:
    app: ServerApp
    queue: JobQueue
    runner: JobRunner
    settings: ComputeSettings

    def workspace(self) -> Path:
        """The calling agent's workspace (identity from the token)."""
        return workspace_of(self.settings.workspaces_dir, self.app.identity().agent)


def private_paths(settings: ComputeSettings) -> tuple[Path, ...]:
    """What compute never reads: the label store and other operator data, and the trusted servers' records."""
    where = paths()
    state = settings.state_dir
    others = [state / f"{name}.db" for name in ("grader", "findings", "snapshot")]
    return (where.raw_dir, where.labeled_dir, where.label_store_dir, *others, state / "snapshots", state / "replicas")


def build_compute(name: str, settings: ComputeSettings | None = None, instructions: str | None = None,
                  local_token: str | None = None, preload: tuple[str, ...] = PRELOAD) -> Compute:
    settings = settings or ComputeSettings()
    app = ServerApp(name, settings, instructions=instructions, local_token=local_token)
    deny = private_paths(settings) if settings.deny_private else ()
    if deny:
        deny_paths(deny)
    queue = JobQueue(app.engine, settings.quotas())
    runner = JobRunner(queue, settings.db_path(name), slots=settings.slots, preload=preload, deny=deny).start()
    atexit.register(runner.stop)
    register_job_tools(app, queue)
    return Compute(app, queue, runner, settings)
