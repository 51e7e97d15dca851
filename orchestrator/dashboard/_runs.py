"""Training runs behind a finding: loss curves from `metrics.jsonl`, and where MLflow or TensorBoard has them.

Run folders live in agent workspaces, which agents control: a file is opened beneath the workspace with the
core's `open_beneath` (a planted symlink is refused, never followed), read once with a size cap, and parsed as
data. The MLflow link comes from the operator's own tracking server (the run's `w2s.run_dir` tag,
see trainer/training/_tracking.py), never from a file in the workspace.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from pydantic import BaseModel

from mcp_servers.core import open_beneath, read_beneath_bytes
from mcp_servers.core._beneath import is_beneath_path
from orchestrator.dashboard._agents import Job, jobs
from orchestrator.dashboard._findings import FindingDetail
from orchestrator.dashboard._sources import Sources

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")
MAX_METRICS_BYTES = 4 * 1024 * 1024
MAX_RUNS = 5


class Curve(BaseModel):
    name: str
    steps: list[float]
    values: list[float]


class RunView(BaseModel):
    job_id: str
    kind: str
    state: str
    curves: list[Curve]
    tensorboard: str | None = None
    """Workspace-relative folder of TensorBoard event files, when the run wrote some."""
    mlflow: str | None = None
    """The MLflow run id holding this run's metrics, when the operator's tracking server has it."""


def _dir(root: int | Path, relpath: str) -> int | None:
    try:
        return open_beneath(root, relpath, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None


def _read(dir_fd: int, name: str) -> bytes | None:
    try:
        # The newest lines are the ones a curve needs; a huge file is read from its end (a cut first line is
        # skipped by the parser).
        return read_beneath_bytes(dir_fd, name, max_bytes=MAX_METRICS_BYTES, from_end=True)
    except OSError:
        return None


def run_location(sources: Sources, job: Job) -> tuple[Path, str] | None:
    """(workspace, run folder relative to it), or None when the run does not lie beneath the workspace.

    The jobs database stores the run folder relative to the workspace (older rows: absolute on the host)."""
    if not _NAME.match(job.agent):
        return None
    workspace = sources.workspaces_dir / job.agent
    run_dir = Path(job.run_dir)
    if run_dir.is_absolute():
        try:
            run_dir = run_dir.relative_to(workspace)
        except ValueError:
            return None
    rel = run_dir.as_posix()
    return (workspace, rel) if is_beneath_path(rel) else None


def parse_metrics(raw: bytes) -> list[Curve]:
    """Numeric series of a metrics.jsonl, keyed by name, against `step` (or the line number)."""
    series: dict[str, tuple[list[float], list[float]]] = {}
    for i, line in enumerate(raw.decode("utf-8", "replace").splitlines()):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        step = record.get("step", i)
        if not isinstance(step, int | float):
            step = i
        for key, value in record.items():
            if key != "step" and isinstance(value, int | float) and not isinstance(value, bool):
                xs, ys = series.setdefault(str(key)[:64], ([], []))
                xs.append(float(step))
                ys.append(float(value))
    return [Curve(name=k, steps=xs, values=ys) for k, (xs, ys) in series.items()]


def read_run(sources: Sources, job: Job, tracking: bool = True) -> RunView:
    view = RunView(job_id=job.id, kind=job.kind, state=job.state, curves=[])
    located = run_location(sources, job)
    fd = None if located is None else _dir(*located)
    if fd is None or located is None:
        return view
    raw, tb = None, None
    try:
        # The trainer writes metrics.jsonl into the run folder or into one sub-folder per model (weak/, strong/).
        for sub in ["", *sorted(os.listdir(fd))[:50]]:
            sub_fd = fd if sub == "" else _dir(fd, sub)
            if sub_fd is None:
                continue
            try:
                raw = _read(sub_fd, "metrics.jsonl")
                tb_fd = _dir(sub_fd, "tb")
                if tb_fd is not None:
                    os.close(tb_fd)
                    tb = tb or "/".join(p for p in (located[1], sub, "tb") if p)
            finally:
                if sub_fd != fd:
                    os.close(sub_fd)
            if raw is not None:
                break
    finally:
        os.close(fd)
    view.curves = parse_metrics(raw) if raw else []
    view.tensorboard = tb
    view.mlflow = mlflow_run(job) if tracking else None
    return view


def mlflow_run(job: Job) -> str | None:
    """The id of the operator's MLflow run tagged with this job's run folder, if MLflow is configured here."""
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        return None
    from trainer.training import find_mlflow_run

    return find_mlflow_run(job.id)


def linked_jobs(sources: Sources, detail: FindingDetail) -> list[Job]:
    """Runs behind a finding: jobs of its agent that it names (job id in body or config), else that agent's
    training jobs for the same idea that finished before the finding was posted (newest first)."""
    own = [j for j in jobs(sources) if j.agent == detail.item.agent]
    text = f"{detail.body}\n{detail.config}"
    named = [j for j in own if j.id in text]
    if named:
        return named[:MAX_RUNS]
    before = [j for j in own if j.kind == "train" and j.created_at <= detail.item.at]
    same_idea = [j for j in before if j.idea and j.idea == detail.item.idea]
    return (same_idea or before)[:MAX_RUNS]


def finding_runs(sources: Sources, detail: FindingDetail, tracking: bool = True) -> list[RunView]:
    """The runs behind a finding; `tracking` False skips the MLflow lookup (curves only)."""
    return [read_run(sources, job, tracking) for job in linked_jobs(sources, detail)]
