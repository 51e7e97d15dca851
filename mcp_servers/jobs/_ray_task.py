"""What runs on a Ray node for one job: the same sandboxed `python -I -m trainer.jobs` the local runner starts,
its stdout lines streamed back to the dispatcher as the items of a Ray generator task.

The node gets the job's payload (public spec, agent name, run dir) and the JobSandbox paths (public data, models,
shared artifacts, the workspaces root); nothing private travels, and the node builds the sandbox with its own
backend (`W2S_SANDBOX` as the operator configured it), so a job there sees exactly what it would see locally.
Importing this module imports no ray: the runner wraps `run_job` with `ray.remote` when the Ray backend is chosen.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

from mcp_servers.jobs._events import bounded_lines
from mcp_servers.jobs._sandboxed import JobSandbox
from trainer.jobs import JobPayload

NODE = "node"
EXIT = "exit"


def run_job(box: JobSandbox, payload: JobPayload, use_gpu: bool) -> Iterator[tuple[str, object]]:
    """Yield `("node", host)` first, then `("line", bytes)` per stdout line, then `("exit", code)`.

    If this process is killed (a cancel, its node lost), the sandbox goes with it: bwrap runs with
    `--die-with-parent`, and a `none` job notices its parent is gone within a second."""
    import ray  # only ever imported on a Ray worker

    # Several nodes may share a host name (a local cluster): the node id tells them apart.
    yield NODE, f"{socket.gethostname()[:64]}/{ray.get_runtime_context().get_node_id()[:12]}"
    # The device Ray gave this task on this node becomes the sandbox's only one.
    gpu = str(ray.get_gpu_ids()[0]) if use_gpu else None
    handle = box.start(payload, gpu)
    try:
        for line in bounded_lines(handle):
            yield "line", line
        yield EXIT, handle.wait(timeout=30.0)
    finally:
        if handle.poll() is None:
            handle.stop(grace_s=2.0)
