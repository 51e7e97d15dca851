"""The orchestrator's state database (`<state_dir>/orchestrator.db`): launches, agents, sessions, API calls.

Written by the launch process and its model-API proxies, read by `status`, `stop` and the dashboard (read-only).
Every string an agent can influence (exit reasons quoting its output, model names) is stored as data, never
interpreted. The schema is INTERFACES.md #5; it goes through the shared core's SQLite engine (WAL, BEGIN IMMEDIATE).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine
from sqlmodel import Field, SQLModel, select

from mcp_servers.core import create_sqlite_engine, init_tables, read_session, write_session
from trainer import paths

AGENT_STATES = ("starting", "running", "restarting", "failed", "done", "stopped")
LIVE_STATES = frozenset({"starting", "running", "restarting"})


class LaunchRow(SQLModel, table=True):
    __tablename__ = "launch"

    id: str = Field(primary_key=True)
    started_at: float
    ended_at: float | None = None
    n_agents: int
    agent_kind: str
    dataset: str
    deadline: float | None = None
    pid: int
    state: str = "running"


class AgentRow(SQLModel, table=True):
    __tablename__ = "agent"

    name: str = Field(primary_key=True)
    launch_id: str = Field(index=True)
    kind: str
    direction: str
    state: str = "starting"
    pid: int | None = None
    started_at: float
    ended_at: float | None = None
    restarts: int = 0
    exit_reason: str | None = None
    cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    sandbox: str = ""


class _PerAgentRow(SQLModel):
    """The columns every row about one agent in one launch starts with (its sessions, its API calls)."""

    id: int | None = Field(default=None, primary_key=True)
    agent: str = Field(index=True)
    launch_id: str = Field(index=True)


class AgentSessionRow(_PerAgentRow, table=True):
    __tablename__ = "agent_session"

    started_at: float
    ended_at: float | None = None
    exit_code: int | None = None
    exit_reason: str | None = None
    cost_usd: float = 0.0
    num_turns: int = 0
    transcript: str = ""


class ApiCallRow(_PerAgentRow, table=True):
    __tablename__ = "api_call"

    at: float
    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    status: int = 0


TABLES = (LaunchRow, AgentRow, AgentSessionRow, ApiCallRow)
PerAgent = TypeVar("PerAgent", bound=_PerAgentRow)


def db_path() -> Path:
    return paths().state_dir / "orchestrator.db"


class StateDB:
    """Typed access to the orchestrator database; safe to share between threads and processes."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or db_path()
        self.engine: Engine = create_sqlite_engine(self.path)
        init_tables(self.engine, *TABLES)
        self.path.chmod(0o600)

    # launches
    def add_launch(self, row: LaunchRow) -> None:
        with write_session(self.engine) as session:
            session.add(row)

    def launch(self, launch_id: str | None = None) -> LaunchRow | None:
        """One launch by id, or the newest one."""
        with read_session(self.engine) as session:
            if launch_id:
                return session.get(LaunchRow, launch_id)
            return session.exec(select(LaunchRow).order_by(LaunchRow.started_at.desc())).first()  # type: ignore[attr-defined]

    def end_launch(self, launch_id: str, state: str) -> None:
        with write_session(self.engine) as session:
            row = session.get(LaunchRow, launch_id)
            if row is not None:
                row.state, row.ended_at = state, time.time()
                session.add(row)

    # agents
    def upsert_agent(self, row: AgentRow) -> None:
        """A relaunch reuses an agent name (its workspace and notebook persist); the row starts over."""
        with write_session(self.engine) as session:
            old = session.get(AgentRow, row.name)
            if old is not None:
                session.delete(old)
                session.flush()
            session.add(row)

    def agents(self, launch_id: str) -> list[AgentRow]:
        with read_session(self.engine) as session:
            return list(session.exec(select(AgentRow).where(AgentRow.launch_id == launch_id)
                                     .order_by(AgentRow.name)).all())

    def agent(self, name: str) -> AgentRow | None:
        with read_session(self.engine) as session:
            return session.get(AgentRow, name)

    def update_agent(self, name: str, **fields: object) -> None:
        with write_session(self.engine) as session:
            row = session.get(AgentRow, name)
            if row is None:
                return
            for key, value in fields.items():
                setattr(row, key, value)
            session.add(row)

    # sessions
    def open_session(self, agent: str, launch_id: str, transcript: str) -> int:
        with write_session(self.engine) as session:
            row = AgentSessionRow(agent=agent, launch_id=launch_id, started_at=time.time(), transcript=transcript)
            session.add(row)
            session.flush()
            return int(row.id or 0)

    def close_session(self, session_id: int, exit_code: int | None, exit_reason: str, cost_usd: float | None = None,
                      num_turns: int | None = None) -> None:
        with write_session(self.engine) as session:
            row = session.get(AgentSessionRow, session_id)
            if row is None:
                return
            row.ended_at, row.exit_code, row.exit_reason = time.time(), exit_code, exit_reason
            if cost_usd is not None:
                row.cost_usd = cost_usd
            if num_turns is not None:
                row.num_turns = num_turns
            session.add(row)

    def sessions(self, agent: str, launch_id: str) -> list[AgentSessionRow]:
        return self._per_agent(AgentSessionRow, agent, launch_id)

    # API calls (one per model request through the agent's proxy)
    def record_call(self, row: ApiCallRow) -> float:
        """Store one call and add it to the agent's totals; answers the agent's cost so far in this launch."""
        with write_session(self.engine) as session:
            session.add(row)
            agent = session.get(AgentRow, row.agent)
            if agent is None or agent.launch_id != row.launch_id:
                return row.cost_usd
            agent.cost_usd += row.cost_usd
            agent.input_tokens += row.input_tokens
            agent.output_tokens += row.output_tokens
            session.add(agent)
            return agent.cost_usd

    def calls(self, agent: str, launch_id: str) -> list[ApiCallRow]:
        return self._per_agent(ApiCallRow, agent, launch_id)

    def _per_agent(self, table: type[PerAgent], agent: str, launch_id: str) -> list[PerAgent]:
        """The agent's rows of `table` in the launch, oldest first."""
        with read_session(self.engine) as session:
            return list(session.exec(select(table).where(table.agent == agent, table.launch_id == launch_id)
                                     .order_by(table.id)).all())  # type: ignore[arg-type]
