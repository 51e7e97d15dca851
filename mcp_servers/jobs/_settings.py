"""Settings of the compute servers (train, predict): one shared jobs database, slots and per-agent quotas."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import AliasChoices, Field

from mcp_servers.core import ServerSettings
from mcp_servers.jobs._queue import Quotas
from mcp_servers.jobs._sandboxed import JobSandbox
from trainer import paths


class ComputeSettings(ServerSettings):
    """Shared by the train and predict servers so their jobs share one queue and one set of slots."""

    config_section: ClassVar[str | None] = "compute"

    data_dir: Path = Field(default_factory=lambda: paths().data_dir,
                           validation_alias=AliasChoices("data_dir", "W2S_DATA_DIR"),
                           description="The public data tree (the only data these servers read).")
    workspaces_dir: Path = Field(default_factory=lambda: paths().workspaces_dir,
                                 validation_alias=AliasChoices("workspaces_dir", "W2S_WORKSPACES_DIR"),
                                 description="Agent workspaces; each job writes into `<agent>/runs/<job id>/` from its sandbox.")
    slots: int | None = Field(default=None, validation_alias=AliasChoices("slots", "W2S_COMPUTE_SLOTS"),
                              description="Concurrent jobs; default one per visible GPU, or one on CPU.")
    max_queued_per_agent: int | None = Field(default=20, validation_alias=AliasChoices(
        "max_queued_per_agent", "W2S_COMPUTE_MAX_QUEUED_PER_AGENT"))
    max_running_per_agent: int | None = Field(default=None, validation_alias=AliasChoices(
        "max_running_per_agent", "W2S_COMPUTE_MAX_RUNNING_PER_AGENT"))
    litestream: bool = Field(default=False, validation_alias=AliasChoices("litestream", "W2S_COMPUTE_LITESTREAM"),
                             description="Jobs are working state (results live in workspaces): not replicated.")
    models_dir: Path = Field(default_factory=lambda: paths().models_dir,
                             validation_alias=AliasChoices("models_dir", "W2S_MODELS_DIR"),
                             description="Prepared models, bound read-only into every job's sandbox.")
    artifacts_dir: Path = Field(default_factory=lambda: paths().artifacts_dir,
                                validation_alias=AliasChoices("artifacts_dir", "W2S_ARTIFACTS_DIR"),
                                description="Shared weak artifacts, bound read-only (jobs build into the agent's "
                                            "own `artifacts/`).")
    sandbox: str = Field(default="auto", validation_alias=AliasChoices("sandbox", "W2S_SANDBOX"),
                         description="Backend every job runs in, the agents' own: auto | bwrap | docker | none "
                                     "(none is unsafe: jobs run on the host as the operator).")

    compute_backend: str = Field(default="local", validation_alias=AliasChoices(
        "compute_backend", "W2S_COMPUTE_BACKEND"), description="Where job sandboxes start: local (this host) | ray "
                                                               "(one Ray task per job; the `ray` extra).")
    ray_address: str | None = Field(default=None, validation_alias=AliasChoices("ray_address", "W2S_RAY_ADDRESS"),
                                    description="ray.init(address=...): `host:6379` of a running cluster, `auto`, "
                                                "or unset for a one-node cluster on this host.")
    ray_num_cpus: float = Field(default=1.0, ge=0, validation_alias=AliasChoices("ray_num_cpus", "W2S_RAY_NUM_CPUS"))
    ray_num_gpus: float | None = Field(default=None, ge=0, validation_alias=AliasChoices(
        "ray_num_gpus", "W2S_RAY_NUM_GPUS"), description="GPUs per job; default 1 when the cluster has GPUs, else 0.")

    def db_path(self, server: str) -> Path:
        return self.state_dir / "jobs.db"

    def job_sandbox(self) -> JobSandbox:
        return JobSandbox(workspaces_dir=self.workspaces_dir, data_dir=self.data_dir, models_dir=self.models_dir,
                          artifacts_dir=self.artifacts_dir, backend_name=self.sandbox)

    def quotas(self) -> Quotas:
        return Quotas(max_queued_per_agent=self.max_queued_per_agent, max_running_per_agent=self.max_running_per_agent)
