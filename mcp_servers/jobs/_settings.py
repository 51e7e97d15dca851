"""Settings of the compute servers (train, predict): one shared jobs database, slots and per-agent quotas."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import AliasChoices, Field

from mcp_servers.core import ServerSettings
from mcp_servers.jobs._queue import Quotas
from trainer import paths


class ComputeSettings(ServerSettings):
    """Shared by the train and predict servers so their jobs share one queue and one set of slots."""

    config_section: ClassVar[str | None] = "compute"

    data_dir: Path = Field(default_factory=lambda: paths().data_dir,
                           validation_alias=AliasChoices("data_dir", "W2S_DATA_DIR"),
                           description="The public data tree (the only data these servers read).")
    workspaces_dir: Path = Field(default_factory=lambda: paths().workspaces_dir,
                                 validation_alias=AliasChoices("workspaces_dir", "W2S_WORKSPACES_DIR"),
                                 description="Agent workspaces; jobs write into `<agent>/runs/<job id>/`.")
    slots: int | None = Field(default=None, validation_alias=AliasChoices("slots", "W2S_COMPUTE_SLOTS"),
                              description="Concurrent jobs; default one per visible GPU, or one on CPU.")
    max_queued_per_agent: int | None = Field(default=20, validation_alias=AliasChoices(
        "max_queued_per_agent", "W2S_COMPUTE_MAX_QUEUED_PER_AGENT"))
    max_running_per_agent: int | None = Field(default=None, validation_alias=AliasChoices(
        "max_running_per_agent", "W2S_COMPUTE_MAX_RUNNING_PER_AGENT"))
    litestream: bool = Field(default=False, validation_alias=AliasChoices("litestream", "W2S_COMPUTE_LITESTREAM"),
                             description="Jobs are working state (results live in workspaces): not replicated.")
    deny_private: bool = Field(default=True, validation_alias=AliasChoices("deny_private", "W2S_COMPUTE_DENY_PRIVATE"),
                               description="Refuse, in-process, any open of the label store and other private dirs.")

    def db_path(self, server: str) -> Path:
        return self.state_dir / "jobs.db"

    def quotas(self) -> Quotas:
        return Quotas(max_queued_per_agent=self.max_queued_per_agent, max_running_per_agent=self.max_running_per_agent)
