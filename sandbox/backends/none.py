"""`none`: runs the command on the host with a clean environment. It isolates nothing and says so, loudly.

Only for debugging on a machine with no labels on it: the process runs as the operator and can read the label
store, the server databases, the raw corpora and the operator's secrets if they are on this machine.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import tempfile
from pathlib import Path

from sandbox._backend import Backend, register
from sandbox._process import ProcessHandle
from sandbox._spec import INSIDE_DATA, INSIDE_WORKSPACE, SandboxSpec

log = logging.getLogger(__name__)
WARNING = ("UNSAFE SANDBOX BACKEND 'none': agent {agent} runs unisolated on the host; it can read hidden labels, "
           "server databases and the operator's secrets if they exist on this machine. Use docker or bwrap.")


@register("none")
class NoneBackend(Backend):
    isolates_labels = False

    def available(self) -> str | None:
        return None

    def start(self, spec: SandboxSpec, *, stdin: bytes | None = None) -> ProcessHandle:
        message = WARNING.format(agent=spec.agent_id)
        log.warning(message)
        print(f"WARNING: {message}", file=sys.stderr, flush=True)
        spec.workspace.mkdir(parents=True, exist_ok=True)
        (spec.workspace / ".home").mkdir(exist_ok=True)
        venv = spec.venv.resolve() if spec.venv else None
        env = spec.environment(inside_venv=venv)
        # No mount namespace: translate the /w2s layout back to host paths so the same prompts still work.
        env.update({"HOME": str(spec.workspace / ".home"), "W2S_WORKSPACE": str(spec.workspace),
                    "W2S_WORKSPACES_DIR": str(spec.workspace.parent),
                    "PYTHONPATH": ":".join(str(d.parent) for d in spec.code_dirs)})
        for var, path in (("W2S_DATA_DIR", spec.data_dir), ("W2S_MODELS_DIR", spec.models_dir),
                          ("W2S_ARTIFACTS_DIR", spec.artifacts_dir)):
            env[var] = str(path) if path else "/nonexistent"
        cwd = spec.workspace if spec.cwd in (None, INSIDE_WORKSPACE) else Path(str(spec.cwd).replace(
            str(INSIDE_WORKSPACE), str(spec.workspace), 1).replace(str(INSIDE_DATA), str(spec.data_dir), 1))
        runtime_dir = Path(tempfile.mkdtemp(prefix=f"w2s-none-{spec.agent_id}-"))
        with (runtime_dir / "stderr").open("wb") as err:
            process = subprocess.Popen(
                spec.command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=err,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            )
        return ProcessHandle(process, spec.agent_id, self.name, runtime_dir, stdin)
