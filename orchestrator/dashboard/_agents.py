"""Agents (orchestrator state, cost), their compute jobs, and the compute slots in use."""

from __future__ import annotations

import json
import time
from collections import defaultdict

from pydantic import BaseModel

from orchestrator.dashboard._board import epoch
from orchestrator.dashboard._sources import Sources, rows

LIVE_STATES = frozenset({"starting", "running", "restarting"})


class AgentWindow(BaseModel):
    started_at: float
    ended_at: float | None

    def active_at(self, t: float) -> bool:
        return self.started_at <= t and (self.ended_at is None or t < self.ended_at)


class Job(BaseModel):
    id: str
    agent: str
    kind: str
    state: str
    created_at: float
    started_at: float | None
    finished_at: float | None
    progress: float
    message: str
    slot: int | None
    run_dir: str
    idea: str | None = None
    """The idea named in the job's arguments (for linking runs to findings), if any."""
    node: str | None = None
    """Where the running attempt runs (`local:<host>`, `ray:<node>`), when the jobs db records it."""


class AgentView(BaseModel):
    name: str
    kind: str | None = None
    launch_id: str | None = None
    direction: str | None = None
    state: str = "unknown"
    started_at: float | None = None
    elapsed_s: float | None = None
    restarts: int = 0
    exit_reason: str | None = None
    cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    job_hours: float = 0.0
    sandbox: str | None = None
    """The sandbox backend the agent runs in (bwrap, docker, docker://host, ...)."""
    queued: list[Job] = []
    running: list[Job] = []


class Launch(BaseModel):
    id: str
    started_at: float
    ended_at: float | None
    n_agents: int
    agent_kind: str
    dataset: str
    deadline: float | None
    state: str


class Compute(BaseModel):
    slots: int
    in_use: int
    gpu: bool
    running: list[Job]
    queued: int


def launches(sources: Sources) -> list[Launch]:
    return [Launch(**dict(r)) for r in rows(
        sources, "orchestrator", "launch",
        "SELECT id, started_at, ended_at, n_agents, agent_kind, dataset, deadline, state FROM launch "
        "ORDER BY started_at DESC")]


def agent_windows(sources: Sources) -> dict[str, AgentWindow]:
    return {r["name"]: AgentWindow(started_at=r["started_at"], ended_at=r["ended_at"]) for r in rows(
        sources, "orchestrator", "agent", "SELECT name, started_at, ended_at FROM agent")}


def jobs(sources: Sources, states: tuple[str, ...] | None = None, limit: int = 5000) -> list[Job]:
    where = f" WHERE state IN ({', '.join('?' * len(states))})" if states else ""
    found = rows(sources, "jobs", "job",
                 f"SELECT * FROM job{where} ORDER BY created_at DESC LIMIT ?", (*(states or ()), limit))
    return [Job(id=r["id"], agent=r["agent"], kind=r["kind"], state=r["state"], created_at=epoch(r["created_at"]) or 0,
                started_at=epoch(r["started_at"]), finished_at=epoch(r["finished_at"]), progress=r["progress"],
                message=r["message"] or "", slot=r["slot"], run_dir=r["run_dir"], idea=_idea(r["spec"]),
                node=r["node"] if "node" in r.keys() else None) for r in found]  # noqa: SIM118 - Row `in` tests values


def _idea(spec: str | None) -> str | None:
    try:
        args = json.loads(spec or "{}").get("args", {})
    except (ValueError, AttributeError):
        return None
    idea = args.get("idea") if isinstance(args, dict) else None
    return str(idea) if idea else None


def job_hours(job: Job, now: float) -> float:
    if job.started_at is None:
        return 0.0
    end = job.finished_at if job.finished_at is not None else (now if job.state == "running" else job.started_at)
    return max(0.0, end - job.started_at) / 3600


def agents(sources: Sources, now: float | None = None) -> list[AgentView]:
    """Every agent the orchestrator ran, plus any agent only the compute servers know of."""
    now = time.time() if now is None else now
    views: dict[str, AgentView] = {}
    for r in rows(sources, "orchestrator", "agent", "SELECT * FROM agent ORDER BY started_at, name"):
        end = r["ended_at"] if r["ended_at"] is not None else now
        views[r["name"]] = AgentView(
            name=r["name"], kind=r["kind"], launch_id=r["launch_id"], direction=r["direction"], state=r["state"],
            started_at=r["started_at"], elapsed_s=max(0.0, end - r["started_at"]), restarts=r["restarts"] or 0,
            exit_reason=r["exit_reason"], cost_usd=r["cost_usd"] or 0.0, input_tokens=r["input_tokens"] or 0,
            output_tokens=r["output_tokens"] or 0, sandbox=r["sandbox"] or None)
    hours: dict[str, float] = defaultdict(float)
    for job in jobs(sources):
        view = views.setdefault(job.agent, AgentView(name=job.agent))
        hours[job.agent] += job_hours(job, now)
        if job.state == "queued":
            view.queued.append(job)
        elif job.state == "running":
            view.running.append(job)
    for name, view in views.items():
        view.job_hours = round(hours[name], 4)
    return list(views.values())


def compute(sources: Sources) -> Compute:
    running = jobs(sources, ("running",))
    queued = jobs(sources, ("queued",))
    seen = max((j.slot for j in running if j.slot is not None), default=-1) + 1
    return Compute(slots=max(sources.slots, seen), in_use=len(running), gpu=sources.gpu, running=running,
                   queued=len(queued))


class CostPoint(BaseModel):
    at: float
    cost_usd: float


def cost_over_time(sources: Sources) -> dict[str, list[CostPoint]]:
    """Cumulative model-API cost per agent, from the proxies' per-call records."""
    series: dict[str, list[CostPoint]] = defaultdict(list)
    total: dict[str, float] = defaultdict(float)
    for r in rows(sources, "orchestrator", "api_call", "SELECT agent, at, cost_usd FROM api_call ORDER BY at, id"):
        total[r["agent"]] += r["cost_usd"] or 0.0
        series[r["agent"]].append(CostPoint(at=r["at"], cost_usd=round(total[r["agent"]], 6)))
    return dict(series)


def change_stamp(sources: Sources) -> str:
    """Changes whenever a job, an agent's state or its cost changes."""
    job = rows(sources, "jobs", "job", "SELECT COUNT(*), MAX(created_at), MAX(started_at), MAX(finished_at), "
               "SUM(progress) FROM job")
    agent = rows(sources, "orchestrator", "agent", "SELECT COUNT(*), GROUP_CONCAT(state), SUM(cost_usd), "
                 "SUM(restarts) FROM agent")
    calls = rows(sources, "orchestrator", "api_call", "SELECT MAX(id) FROM api_call")
    return repr([tuple(x[0]) if x else () for x in (job, agent, calls)])
