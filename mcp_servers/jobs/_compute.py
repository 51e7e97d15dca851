"""What the train and predict servers share: a `ServerApp[ComputeService]` over the jobs db with a started runner
and the job tools registered."""

from __future__ import annotations

import atexit
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mcp_servers.core import Identity, ServerApp, workspace_of
from mcp_servers.jobs._queue import JobQueue
from mcp_servers.jobs._runner import JobRunner
from mcp_servers.jobs._runners import make_runner
from mcp_servers.jobs._settings import ComputeSettings
from mcp_servers.jobs._tools import register_job_tools


@dataclass
class ComputeService:
    """The service of a compute server (`app.service`): its job queue, the runner dispatching it, its settings."""

    queue: JobQueue
    runner: JobRunner
    settings: ComputeSettings
    identity: Callable[[], Identity]

    def workspace(self) -> Path:
        """The calling agent's workspace (identity from the token). The server reads beneath it with
        `open_beneath` only and writes nothing there: jobs write from inside their sandbox."""
        return workspace_of(self.settings.workspaces_dir, self.identity().agent)


def build_compute(name: str, settings: ComputeSettings | None = None, instructions: str | None = None,
                  local_token: str | None = None) -> ServerApp[ComputeService]:
    """A compute server named `name` (its token scope) with the job tools; its own tools go on `app.mcp`."""
    chosen = settings or ComputeSettings()

    def start(app: ServerApp[ComputeService]) -> ComputeService:
        queue = JobQueue(app.engine, chosen.quotas(), workspaces_dir=chosen.workspaces_dir)
        runner = make_runner(queue, chosen).start()
        atexit.register(runner.stop)
        return ComputeService(queue, runner, chosen, app.identity)

    app = ServerApp(name, chosen, instructions=instructions, local_token=local_token, service=start)
    register_job_tools(app, app.service.queue)
    return app
