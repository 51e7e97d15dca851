"""What the train and predict servers share: a ServerApp over the jobs db, a started runner, the job tools."""

from __future__ import annotations

import atexit
from dataclasses import dataclass
from pathlib import Path

from mcp_servers.core import ServerApp, workspace_of
from mcp_servers.jobs._queue import JobQueue
from mcp_servers.jobs._runner import JobRunner
from mcp_servers.jobs._runners import make_runner
from mcp_servers.jobs._settings import ComputeSettings
from mcp_servers.jobs._tools import register_job_tools


@dataclass
class Compute:
    app: ServerApp
    queue: JobQueue
    runner: JobRunner
    settings: ComputeSettings

    def workspace(self) -> Path:
        """The calling agent's workspace (identity from the token). The server reads beneath it with
        `open_beneath` only and writes nothing there: jobs write from inside their sandbox."""
        return workspace_of(self.settings.workspaces_dir, self.app.identity().agent)


def build_compute(name: str, settings: ComputeSettings | None = None, instructions: str | None = None,
                  local_token: str | None = None) -> Compute:
    settings = settings or ComputeSettings()
    app = ServerApp(name, settings, instructions=instructions, local_token=local_token)
    queue = JobQueue(app.engine, settings.quotas(), workspaces_dir=settings.workspaces_dir)
    runner = make_runner(queue, settings).start()
    atexit.register(runner.stop)
    register_job_tools(app, queue)
    return Compute(app, queue, runner, settings)
