"""Runs behind a finding: curves from metrics.jsonl (opened beneath the workspace, links refused) and the MLflow
run that the trainer's own logger recorded in a local MLflow file store."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from orchestrator.dashboard._agents import Job, jobs
from orchestrator.dashboard._app import build_app
from orchestrator.dashboard._findings import finding
from orchestrator.dashboard._runs import finding_runs, linked_jobs, parse_metrics, read_run, run_location
from tests.orchestrator.dashboard.browser_helpers import serving
from tests.orchestrator.dashboard.dash_helpers import DEnv
from trainer.training._tracking import JOB_TAG, RUN_DIR_TAG, find_mlflow_run, job_id_of, run_tags


def test_finding_links_its_run_and_curves(denv: DEnv) -> None:
    detail = finding(denv.sources, denv.ids["f_logconf"])
    assert detail is not None
    runs = finding_runs(denv.sources, detail)
    assert [r.job_id for r in runs] == [denv.ids["job"]]
    loss = next(c for c in runs[0].curves if c.name == "loss")
    assert loss.steps == [1, 2, 3, 4] and loss.values == [0.9, 0.7, 0.55, 0.41]
    assert runs[0].mlflow is None  # no tracking URI configured: nothing breaks, nothing linked


def test_without_a_named_job_the_agents_runs_of_that_idea_are_linked(denv: DEnv) -> None:
    later = denv.train_job("bob", "ensemble", losses=[1.0, 0.5])
    fid = denv.post("bob", "Ensembles again", "ensemble", "ensemble", [])
    detail = finding(denv.sources, fid)
    assert detail is not None and [j.id for j in linked_jobs(denv.sources, detail)] == [later]


def test_planted_links_are_not_followed(denv: DEnv, tmp_path: Path) -> None:
    secret = tmp_path / "secret.jsonl"
    secret.write_text('{"step": 1, "loss": 123.0}\n')
    job = next(j for j in jobs(denv.sources) if j.id == denv.ids["job"])
    run = denv.workspace("alice") / job.run_dir
    (run / "metrics.jsonl").unlink()
    (run / "metrics.jsonl").symlink_to(secret)
    assert read_run(denv.sources, job).curves == []
    # A linked run folder is refused as well.
    os.rename(run, run.with_name("moved"))
    run.symlink_to(run.with_name("moved"))
    assert read_run(denv.sources, job).curves == []


def test_an_agent_name_with_a_trailing_newline_has_no_run_location(denv: DEnv) -> None:
    job = Job(id="train-0123456789ab", agent="alice", kind="train", state="done", created_at=0.0, started_at=None,
              finished_at=None, progress=1.0, message="", slot=None, run_dir="runs/train-0123456789ab")
    assert run_location(denv.sources, job) is not None
    assert run_location(denv.sources, job.model_copy(update={"agent": "alice\n"})) is None


def test_parse_metrics_skips_garbage() -> None:
    raw = b'{"step": 1, "loss": 2.0, "ok": true}\nnot json\n[1, 2]\n{"loss": 1.0, "name": "x"}\n'
    curves = {c.name: c for c in parse_metrics(raw)}
    assert set(curves) == {"loss"} and curves["loss"].steps == [1.0, 3.0] and curves["loss"].values == [2.0, 1.0]


def test_tracking_tags() -> None:
    folder = Path("/w/alice/runs/train-0123456789ab/strong")
    assert job_id_of(folder) == "train-0123456789ab" and job_id_of(Path("/tmp/x")) is None
    assert run_tags(folder) == {RUN_DIR_TAG: str(folder), JOB_TAG: "train-0123456789ab"}
    assert find_mlflow_run("not a job id") is None
    assert job_id_of(Path("/w/alice/runs/train-0123456789ab\n/strong")) is None
    assert find_mlflow_run("train-0123456789ab\n") is None


def test_run_logged_to_a_local_mlflow_store_is_found(denv: DEnv, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    mlflow = pytest.importorskip("mlflow")
    store = tmp_path / "mlruns"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.as_uri())
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps the file store behind this switch
    job_id = denv.train_job("alice", "logconf", losses=[0.8, 0.6, 0.3])  # MetricsLogger logs to MLflow now
    run_id = find_mlflow_run(job_id)
    assert run_id is not None and (store / "0" / run_id).is_dir()
    logged = mlflow.tracking.MlflowClient().get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in logged] == [(1, 0.8), (2, 0.6), (3, 0.3)]
    fid = denv.post("alice", "Logconf with tracking", "logconf", "loss function", [], body=f"run {job_id}")
    with serving(build_app(denv.sources)) as url:
        page = httpx.get(f"{url}/finding/{fid}").text
    assert run_id in page and job_id in page
