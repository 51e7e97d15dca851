"""One sandbox per job, under the requesting agent's policy: the agent's workspace read-write, public data,
models and artifacts read-only, nothing private, no network, the job body from a read-only code bind.

The backend is the agents' own (`W2S_SANDBOX`: auto | bwrap | docker | none), so a job can do nothing its agent
could not. `none` runs jobs on the host as the operator: for development only, and it says so loudly.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import sandbox
from mcp_servers.core import workspace_of
from sandbox import Backend, ResourceLimits, SandboxHandle, SandboxSpec, get_backend
from sandbox._spec import INSIDE_SRC
from trainer.jobs import JobPayload

log = logging.getLogger(__name__)
# Host settings a job may inherit: thread counts and tokenizer noise, nothing that names a path or holds a secret.
PASSTHROUGH_ENV: tuple[str, ...] = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TOKENIZERS_PARALLELISM",
                                    "W2S_TENSORBOARD")
# `-I` ignores PYTHONPATH and keeps the cwd (the workspace) off sys.path; the code root is put first explicitly.
BOOTSTRAP = ("import runpy, sys; sys.path.insert(0, sys.argv.pop(1)); "
             "runpy.run_module('trainer.jobs', run_name='__main__', alter_sys=True)")
UNSAFE = ("UNSAFE: W2S_SANDBOX=none runs train and predict jobs on the host as the operator; a job can read "
          "the label store and every workspace. Use bwrap or docker wherever labels exist.")


def _code_root() -> Path:
    import trainer

    return Path(trainer.__file__).resolve().parent.parent


@dataclass(frozen=True)
class JobSandbox:
    """What every job's sandbox is built from (host paths, chosen by the operator)."""

    workspaces_dir: Path
    data_dir: Path
    models_dir: Path | None = None
    artifacts_dir: Path | None = None
    backend_name: str = "auto"
    limits: ResourceLimits = field(default_factory=ResourceLimits)

    def backend(self) -> Backend:
        """The backend, refusing to fall back to `none` unless it was asked for by name."""
        backend = get_backend(self.backend_name)
        if not backend.isolates_labels:
            log.warning(UNSAFE)
            print(f"WARNING: {UNSAFE}", file=sys.stderr, flush=True)
        return backend

    def workspace(self, agent: str) -> Path:
        path = workspace_of(self.workspaces_dir, agent)
        if not path.exists():  # created for the sandbox user (the backend re-owns an existing one at start)
            return sandbox.prepare_workspace(path)
        return path

    def command(self, backend: Backend) -> list[str]:
        src = str(_code_root()) if not backend.isolates_labels else str(INSIDE_SRC)
        return ["python", "-I", "-c", BOOTSTRAP, src]

    def spec(self, agent: str, backend: Backend, gpu: str | None) -> SandboxSpec:
        env = {name: os.environ[name] for name in PASSTHROUGH_ENV if name in os.environ}
        if gpu is None:
            env["CUDA_VISIBLE_DEVICES"] = ""  # a CPU slot: no job touches a GPU another slot holds
        if self.artifacts_dir is not None:
            self.artifacts_dir.mkdir(parents=True, exist_ok=True)  # operator-side public dir, bound read-only
        optional = {name: path for name, path in (("models_dir", self.models_dir),
                                                  ("artifacts_dir", self.artifacts_dir)) if path and path.is_dir()}
        code = _code_root()
        return SandboxSpec(agent_id=agent, workspace=self.workspace(agent), command=self.command(backend),
                           data_dir=self.data_dir, **optional, extra_env=env, limits=self.limits,
                           gpu=[gpu] if gpu is not None else False,
                           code_dirs=[code / "trainer", code / "sandbox"])

    def start(self, payload: JobPayload, gpu: str | None, backend: Backend | None = None) -> SandboxHandle:
        """Start the job in a fresh sandbox; `backend` as resolved once by the runner (else resolved here)."""
        backend = backend or self.backend()
        return backend.start(self.spec(payload.agent, backend, gpu), stdin=payload.dumps())
