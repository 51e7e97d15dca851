"""Fixtures shared by the train and predict server tests: a tiny testbed, tokens, a compute server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client

from mcp_servers.core import TokenStore
from mcp_servers.grader.datasets._build import build_testbed
from mcp_servers.jobs import JobState
from mcp_servers.jobs._compute import Compute
from mcp_servers.jobs._settings import ComputeSettings
from tests.mcp_servers.server_helpers import ServerProcess, free_port  # noqa: F401  (re-exported)

FAST_WEAK = {"max_steps": 2, "batch_size": 8}
FAST_SFT = {"model": "minilm-l6", "max_steps": 2, "batch_size": 8, "lora": False}


@dataclass
class ComputeEnv:
    home: Path
    settings: ComputeSettings
    tokens: dict[str, str]


@pytest.fixture
def compute_env(w2s_home: Path, monkeypatch: pytest.MonkeyPatch) -> ComputeEnv:
    for var in ("W2S_TOKEN", "W2S_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    build_testbed("sentiment", "tiny", seed=0)
    settings = ComputeSettings(slots=1, deny_private=False, litestream=False)
    store = TokenStore(settings.tokens_db)
    tokens = {agent: store.mint(agent, ["train", "predict"]) for agent in ("alice", "bob")}
    tokens["grader-only"] = store.mint("carol", ["grader"])
    return ComputeEnv(w2s_home, settings, tokens)


def stop(compute: Compute) -> None:
    compute.runner.stop()


@pytest.fixture
def servers(compute_env: ComputeEnv) -> Iterator[dict[str, Compute]]:
    """Train and predict servers for alice, sharing one jobs db and one slot (as deployed)."""
    from mcp_servers.predict import build_server as build_predict
    from mcp_servers.train import build_server as build_train

    made = {"train": build_train(compute_env.settings, compute_env.tokens["alice"], preload=()),
            "predict": build_predict(compute_env.settings, compute_env.tokens["alice"], preload=())}
    yield made
    for compute in made.values():
        stop(compute)


async def call(client: Client, tool: str, **args: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    return result.structured_content if isinstance(result.structured_content, dict) else {"result": result.data}


async def wait_done(client: Client, job_id: str, timeout: float = 240.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = await call(client, "wait_job", job_id=job_id, max_wait_s=30)
        if JobState(view["state"]).finished:
            return view
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish in {timeout}s")


def compute_process(module: str, home: Path, port: int) -> ServerProcess:
    """A train or predict server in a child process, with one slot and the operator's raw data and models."""
    import os

    return ServerProcess(module, home, port, W2S_COMPUTE_SLOTS="1", W2S_RAW_DIR=os.environ.get("W2S_RAW_DIR", ""),
                         W2S_MODELS_DIR=os.environ["W2S_MODELS_DIR"])


def http_client(url: str, token: str) -> Client:
    from fastmcp.client.transports import StreamableHttpTransport

    return Client(StreamableHttpTransport(f"{url}/mcp", headers={"Authorization": f"Bearer {token}"}))
