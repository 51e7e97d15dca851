"""`python -m orchestrator.agents.evolve --dataset D --until UNIX_TS [--seed S] [--direction NAME]`.

Runs inside the agent's sandbox; the servers' URLs come from `W2S_<SERVER>_URL`, the bearer from `W2S_TOKEN`.
Events go to stdout as JSON lines; the token is never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from orchestrator.agents.evolve._agent import EvolveAgent, Settings
from orchestrator.agents.evolve._client import Tools, urls_from_env


class EventLog:
    """One JSON object per line: {"event": ..., "t": unix time, ...fields}."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def __call__(self, event: str, **fields: Any) -> None:
        self.out.write(json.dumps({"event": event, "t": round(time.time(), 3), **fields}, default=str) + "\n")
        self.out.flush()


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m orchestrator.agents.evolve",
                                     description="Offline evolutionary weak-to-strong research agent (MCP tools only).")
    parser.add_argument("--dataset", required=True, help="public dataset name, as the grader lists it")
    parser.add_argument("--until", required=True, type=float, help="unix time by which the agent has exited")
    parser.add_argument("--seed", type=int, default=0, help="seeds the search and every training run")
    parser.add_argument("--direction", default=None, help="research direction (prompts/directions.yaml) biasing mutation")
    parser.add_argument("--population", type=int, default=6, help="initial candidates screened before confirming")
    parser.add_argument("--brood", type=int, default=3, help="children bred per generation")
    parser.add_argument("--preset", default=None, help="trainer preset sent with every start_training (e.g. smoke)")
    parser.add_argument("--screen-steps", type=int, default=40,
                        help="without a fast tier: optimizer steps of a screening LoRA run")
    parser.add_argument("--margin", type=float, default=15.0, help="seconds before --until to be done by")
    parser.add_argument("--max-submissions", type=int, default=20)
    args = parser.parse_args(argv)
    if args.population < 1 or args.brood < 1 or args.screen_steps < 1 or args.margin < 0:
        parser.error("--population, --brood and --screen-steps must be >= 1, --margin >= 0")
    return args


async def _main(args: argparse.Namespace, emit: EventLog) -> str:
    token = os.environ.get("W2S_TOKEN", "")
    if not token:
        raise SystemExit("evolve: W2S_TOKEN is not set (the agent's bearer token)")
    settings = Settings(dataset=args.dataset, until=args.until, seed=args.seed, direction=args.direction,
                        population=args.population, brood=args.brood, preset=args.preset,
                        screen_steps=args.screen_steps, margin_s=args.margin, max_submissions=args.max_submissions,
                        workdir=Path.cwd())
    agent = EvolveAgent(settings, Tools(urls_from_env(), token, emit), emit)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, agent.stop.set)
    return await agent.run()


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("FASTMCP_SHOW_SERVER_BANNER", "false")
    os.environ.setdefault("FASTMCP_CHECK_FOR_UPDATES", "off")
    emit = EventLog(sys.stdout)
    reason = asyncio.run(_main(args, emit))
    return 1 if reason.startswith("error") else 0
