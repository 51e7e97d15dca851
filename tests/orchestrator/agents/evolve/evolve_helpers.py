"""Evolve agents for tests: one against a real grader (in-process uvicorn, real SQLite), one offline, and trials."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp_servers.core import TokenStore
from mcp_servers.grader import Calibration, build_server, write_calibration
from mcp_servers.grader._service import GraderSettings
from mcp_servers.grader.datasets._build import build_testbed
from orchestrator.agents.evolve._agent import EvolveAgent, Settings
from orchestrator.agents.evolve._client import Tools
from orchestrator.agents.evolve._fitness import Fitness
from orchestrator.agents.evolve._notebook import Trial
from orchestrator.agents.evolve._space import Genome
from tests.mcp_servers.server_helpers import running


@asynccontextmanager
async def agent_with_grader(home: Path, tmp: Path, **grader: Any) -> AsyncIterator[tuple[EvolveAgent, list]]:
    build_testbed("sentiment", "tiny", seed=0)
    settings = GraderSettings(**grader)
    write_calibration(settings.label_store, "sentiment", Calibration(weak_acc=0.55, strong_acc=0.9, seeds=1,
                                                                     source="test"))
    token = TokenStore(settings.tokens_db).mint("evo", ["grader"])
    events: list[dict[str, Any]] = []

    def emit(event: str, **fields: Any) -> None:
        events.append({"event": event, **fields})

    async with running(build_server(settings).http_app()) as url:
        tools = Tools({"grader": f"{url}/mcp"}, token, emit, retries=0)
        agent = EvolveAgent(Settings("sentiment", time.time() + 120, workdir=tmp, min_gain=0.01), tools, emit)
        yield agent, events


def trial(fit: float, n: int, flip: bool = False) -> Trial:
    probs = [float((i % 2) != flip) for i in range(n)]
    return Trial(Genome("vanilla_w2s", {"strong.lr": fit}), "confirm", fitness=Fitness(fit, fit, None, 1.0, "t"),
                 test_probs=probs)


def offline_agent(workdir: Path, **settings: Any) -> EvolveAgent:
    """An agent with no server reachable (every tool call fails as unreachable)."""
    return EvolveAgent(Settings("sentiment", time.time() + 3600, workdir=workdir, **settings),
                       Tools({}, "t", lambda *a, **k: None), lambda *a, **k: None)
