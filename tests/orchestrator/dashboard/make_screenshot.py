"""Make docs/dashboard.png with the project's own command over a demo record.

    .venv/bin/python -m tests.orchestrator.dashboard.make_screenshot [--out docs/dashboard.png] [--gap 2]

The record is synthetic but written through the real services (grader submissions scored against a tiny toy
testbed whose calibration is a fixture, findings with comments and votes, snapshots, jobs whose metrics come from
the trainer's logger, the orchestrator's state db), spread over a minute or two so the plots have a time axis;
then `orchestrator dashboard --screenshot` takes the picture in a throwaway W2S_HOME.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

# (agent, idea, method family, accuracy steps): each agent climbs with its idea over the session.
PLAN = [
    ("evolve1", "vanilla_w2s", "other", [0.66, 0.70, 0.71]),
    ("evolve2", "logconf", "loss function", [0.68, 0.74, 0.79, 0.81]),
    ("evolve3", "ue_zeroshot", "unsupervised elicitation", [0.63, 0.67, 0.72]),
    ("evolve1", "seed_ensemble", "ensemble", [0.73, 0.76]),
    ("evolve3", "confident_filter", "data filtering", [0.74, 0.78]),
]


def populate(gap: float) -> None:
    from orchestrator._db import AgentRow, LaunchRow, StateDB
    from tests.orchestrator.dashboard.dash_helpers import build_denv
    from trainer import paths

    env = build_denv(Path(os.environ["W2S_HOME"]))
    agents = sorted({p[0] for p in PLAN})
    for agent in agents:
        (paths().workspaces_dir / agent).mkdir(parents=True, exist_ok=True)
    db, now = StateDB(), time.time()
    db.add_launch(LaunchRow(id="demo", started_at=now, n_agents=len(agents), agent_kind="evolve", dataset="toy",
                            deadline=now + 3600, pid=os.getpid()))
    directions = {"evolve1": "ensembles-and-seeds", "evolve2": "confidence-reweighting",
                  "evolve3": "unsupervised-elicitation"}
    for agent in agents:
        db.upsert_agent(AgentRow(name=agent, launch_id="demo", kind="evolve", direction=directions[agent],
                                 state="running", started_at=now, sandbox="bwrap"))
    steps = max(len(p[3]) for p in PLAN)
    for step in range(steps):
        for agent, idea, family, accs in PLAN:
            if step >= len(accs):
                continue
            losses = [1.0 - 0.1 * k - 0.05 * step for k in range(6)]
            job = env.train_job(agent, idea, losses=losses)
            sub = env.submit(agent, accs[step], idea, seed=step)
            if step == len(accs) - 1:
                fid = env.post(agent, f"{idea}: PGR up on toy", idea, family, [sub],
                               body=f"Run {job}. Best of {len(accs)} tries.")
                ws = env.workspace(agent)
                (ws / "idea.py").write_text(f"IDEA = {idea!r}\nSTEP = {step}\n")
                env.snapshots.upload(env.who(agent), f"{idea} code", idea=idea, finding_id=fid)
            time.sleep(gap)
    env.findings.comment(env.who("evolve1"), 1, "Does this hold on another seed?")
    env.findings.vote(env.who("evolve3"), 1, 1)
    env.train_job("evolve2", "logconf", losses=[0.9, 0.8], state="running")
    env.train_job("evolve3", "confident_filter", state="queued")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "dashboard.png")
    parser.add_argument("--gap", type=float, default=2.0, help="seconds between rounds of submissions")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="w2s-demo-") as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("W2S_", "MLFLOW_"))}
        env.update(W2S_HOME=str(Path(home) / "w2s"), W2S_LITESTREAM="false", W2S_TENSORBOARD="0",
                   PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
        os.environ.update(env)
        populate(args.gap)
        done = subprocess.run([sys.executable, "-m", "orchestrator.cli", "dashboard", "--screenshot",
                               str(args.out.resolve())], env=env, cwd=REPO, check=False)
    raise SystemExit(done.returncode)


if __name__ == "__main__":
    main()
