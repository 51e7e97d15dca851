"""The offline `evolve` agent: heuristic evolutionary search over idea configurations, acting only through the
MCP servers (see docs/evolve.md). Run it as `python -m orchestrator.agents.evolve --dataset D --until UNIX_TS`."""

from orchestrator.agents.evolve._agent import EvolveAgent, Settings, tier_overrides
from orchestrator.agents.evolve._cli import EventLog, main
from orchestrator.agents.evolve._client import SERVERS, ToolFailure, Tools, urls_from_env
from orchestrator.agents.evolve._evolution import DIRECTION_BIAS, Evolver, Scored
from orchestrator.agents.evolve._fitness import Fitness, fitness, postprocess
from orchestrator.agents.evolve._space import Genome, InvalidGenome, baselines, validate

__all__ = [
    "DIRECTION_BIAS",
    "SERVERS",
    "EventLog",
    "EvolveAgent",
    "Evolver",
    "Fitness",
    "Genome",
    "InvalidGenome",
    "Scored",
    "Settings",
    "ToolFailure",
    "Tools",
    "baselines",
    "fitness",
    "main",
    "postprocess",
    "tier_overrides",
    "urls_from_env",
    "validate",
]
