"""A small research record written by the real services: grader submissions, findings with comments and votes,
two snapshots, compute jobs with a metrics.jsonl from the trainer's own logger, and orchestrator state."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp_servers.core import Identity, create_sqlite_engine
from mcp_servers.findings import FindingsService, FindingsSettings
from mcp_servers.grader._service import Grader
from mcp_servers.jobs import JobQueue, JobState
from mcp_servers.snapshot import SnapshotService, SnapshotSettings
from orchestrator.dashboard._sources import Sources
from tests.mcp_servers.grader.toy_grader import build_toy_grader, submit_toy
from trainer import paths
from trainer.jobs import job_kind

AGENTS = ("alice", "bob")
TRAIN_TARGET = job_kind("idea").target


@dataclass
class DEnv:
    home: Path
    grader: Grader
    findings: FindingsService
    snapshots: SnapshotService
    queue: JobQueue
    truth: list[int]
    ids: dict[str, Any] = field(default_factory=dict)

    @property
    def sources(self) -> Sources:
        return Sources.from_env()

    @staticmethod
    def who(agent: str) -> Identity:
        return Identity(agent=agent, scopes=frozenset({"grader", "findings", "snapshot"}))

    def submit(self, agent: str, correct: float, idea: str, seed: int | None = None) -> int:
        """A real grader submission with about `correct` of the test rows right; its id."""
        return submit_toy(self.grader, self.truth, agent, correct, idea, seed)

    def post(self, agent: str, title: str, idea: str, family: str, subs: list[int], body: str = "") -> int:
        return self.findings.post(self.who(agent), title=title, summary=f"{title} (summary)", body=body or title,
                                  finding_type="result" if subs else "hypothesis", idea=idea, method_family=family,
                                  submission_ids=subs, tags=["toy"]).finding_id

    def workspace(self, agent: str) -> Path:
        return paths().workspaces_dir / agent

    def train_job(self, agent: str, idea: str, losses: list[float] | None = None, state: str = "succeeded") -> str:
        """A compute job as the train server queues it; `losses` become its metrics.jsonl via MetricsLogger."""
        from trainer.training._logging import MetricsLogger

        job_id = f"train-{os.urandom(6).hex()}"
        self.queue.submit(agent, "train", TRAIN_TARGET, {"idea": idea, "config": {}, "dataset": "toy"},
                          run_dir=f"runs/{job_id}", job_id=job_id)
        if state == "queued":
            return job_id
        claimed = self.queue.claim_next(4, os.getpid(), node="local:test-host")
        assert claimed is not None and claimed[0].id == job_id
        if losses is not None:
            logger = MetricsLogger(self.workspace(agent) / "runs" / job_id / "metrics.jsonl", f"{agent}-{idea}", {})
            for step, loss in enumerate(losses, 1):
                logger.log({"step": step, "loss": loss, "lr": 1e-3})
            logger.close()
        if state == "succeeded":
            self.queue.finish(job_id, JobState.SUCCEEDED, result={})
        return job_id


def build_denv(home: Path) -> DEnv:
    grader, truth = build_toy_grader(home)
    fsettings = FindingsSettings()
    findings = FindingsService(fsettings, create_sqlite_engine(fsettings.db_path("findings")))
    ssettings = SnapshotSettings()
    snapshots = SnapshotService(ssettings, create_sqlite_engine(ssettings.db_path("snapshot")))
    queue = JobQueue(create_sqlite_engine(paths().state_dir / "jobs.db"))
    for agent in AGENTS:
        (paths().workspaces_dir / agent).mkdir(parents=True, exist_ok=True)
    return DEnv(home, grader, findings, snapshots, queue, truth)


def populate(env: DEnv) -> DEnv:
    """The record the dashboard tests read (ids in env.ids)."""
    ids = env.ids
    ids["a_vanilla"] = [env.submit("alice", 0.70, "vanilla", seed=s) for s in (0, 1)]
    ids["a_logconf"] = env.submit("alice", 0.84, "logconf", seed=0)
    ids["b_ensemble"] = [env.submit("bob", c, "ensemble", seed=0) for c in (0.72, 0.78)]
    ws = env.workspace("alice")
    (ws / "train.py").write_text("loss = 'xent'\nepochs = 2\n")
    ids["snap_parent"] = env.snapshots.upload(env.who("alice"), "baseline code", idea="vanilla").snapshot_id
    ids["job"] = env.train_job("alice", "logconf", losses=[0.9, 0.7, 0.55, 0.41])
    ids["f_logconf"] = env.post("alice", "Auxiliary confidence loss beats vanilla", "logconf", "loss function",
                                [ids["a_logconf"]], body=f"Trained with job {ids['job']}; <script>alert(1)</script>")
    (ws / "train.py").write_text("loss = 'logconf'\nepochs = 2\n")
    (ws / "NOTES.md").write_text("aux loss weight 0.5\n")
    ids["snap"] = env.snapshots.upload(env.who("alice"), "logconf code", idea="logconf",
                                       finding_id=ids["f_logconf"]).snapshot_id
    ids["f_ensemble"] = env.post("bob", "Seed ensembles smooth the weak labels", "ensemble", "ensemble",
                                 ids["b_ensemble"])
    env.findings.comment(env.who("bob"), ids["f_logconf"], "Reproduced on seed 1? <b>bold</b>")
    env.findings.vote(env.who("bob"), ids["f_logconf"], 1)
    _orchestrator_state(env)
    return env


def _orchestrator_state(env: DEnv) -> None:
    """The orchestrator's launch and agents, when its state module is present (INTERFACES.md #5)."""
    try:
        from orchestrator._db import AgentRow, ApiCallRow, LaunchRow, StateDB
    except ImportError:
        return
    db = StateDB()
    now = time.time()
    db.add_launch(LaunchRow(id="launch-1", started_at=now - 3600, n_agents=2, agent_kind="evolve", dataset="toy",
                            pid=os.getpid()))
    for i, agent in enumerate(AGENTS):
        db.upsert_agent(AgentRow(name=agent, launch_id="launch-1", kind="evolve", direction=f"direction {i}",
                                 state="running", started_at=now - 3600, sandbox="bwrap"))
        db.record_call(ApiCallRow(agent=agent, launch_id="launch-1", at=now - 600, model="m", input_tokens=100,
                                  output_tokens=10, cost_usd=0.25 * (i + 1), status=200))
    env.ids["orchestrator"] = True
