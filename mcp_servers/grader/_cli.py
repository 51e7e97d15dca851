"""Operator commands of the grader (mounted in `w2s-admin` as `grader`)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlmodel import select

from mcp_servers.core import create_sqlite_engine, read_session
from mcp_servers.grader._board import publish, score_private
from mcp_servers.grader._calibration import Calibration, SliceCalibration, read_calibration, write_calibration
from mcp_servers.grader._records import SubmissionRow
from mcp_servers.grader._service import Grader, GraderError, GraderSettings

grader_app = typer.Typer(help="Grader operator commands: private scoring, publication, calibration, audit.",
                         no_args_is_help=True)
_out = Console()


def _grader() -> Grader:
    settings = GraderSettings()
    return Grader(settings, create_sqlite_engine(settings.db_path("grader")))


@grader_app.command("score-private")
def score_private_cmd(
    dataset: Annotated[str, typer.Argument(help="dataset name")],
    all_: Annotated[bool, typer.Option("--all", help="every submission, not only each agent/idea's best")] = False,
) -> None:
    """Score the private test part of the selected submissions and store the scores (not yet shown to agents)."""
    try:
        rows = score_private(_grader(), dataset, all_submissions=all_)
    except GraderError as exc:
        raise typer.BadParameter(str(exc)) from None
    table = Table("submission", "private accuracy", "private pgr")
    for r in rows:
        table.add_row(str(r.submission_id), f"{r.accuracy:.4f}", "" if r.pgr is None else f"{r.pgr:.4f}")
    _out.print(table)


@grader_app.command("publish")
def publish_cmd(dataset: Annotated[str, typer.Argument(help="dataset name")]) -> None:
    """Publish the private scores: the leaderboard tool shows them from now on; a JSON copy is written."""
    path = publish(_grader(), dataset)
    typer.echo(str(path))


@grader_app.command("submissions")
def submissions_cmd(
    dataset: Annotated[str, typer.Argument(help="dataset name")],
    agent: Annotated[str | None, typer.Option(help="only this agent")] = None,
    limit: Annotated[int, typer.Option(help="most recent N")] = 50,
) -> None:
    """Audit view: exact public scores, what the agent was told, and flags."""
    grader = _grader()
    with read_session(grader.engine) as session:
        query = select(SubmissionRow.id, SubmissionRow.agent, SubmissionRow.created_at, SubmissionRow.idea,
                       SubmissionRow.exact_json, SubmissionRow.reported_accuracy, SubmissionRow.flags).where(
            SubmissionRow.dataset == dataset)
        if agent:
            query = query.where(SubmissionRow.agent == agent)
        rows = session.exec(query.order_by(SubmissionRow.id.desc()).limit(limit)).all()  # type: ignore[union-attr]
    table = Table("id", "agent", "time", "idea", "exact acc", "reported", "flags")
    for r in rows:
        exact = json.loads(r[4])["overall"]["accuracy"]
        table.add_row(str(r[0]), r[1], r[2].isoformat(timespec="seconds"), r[3] or "", f"{exact:.4f}",
                      f"{r[5]:.3f}", ", ".join(json.loads(r[6])))
    _out.print(table)


@grader_app.command("calibration")
def calibration_cmd(
    dataset: Annotated[str, typer.Argument(help="dataset name")],
    weak_acc: Annotated[float | None, typer.Option(help="set: mean weak accuracy on test")] = None,
    strong_acc: Annotated[float | None, typer.Option(help="set: mean strong (ceiling) accuracy on test")] = None,
    seeds: Annotated[int, typer.Option(help="set: seeds behind the means")] = 1,
    source: Annotated[str, typer.Option(help="set: how the numbers were measured")] = "manual",
    id_weak: Annotated[float | None, typer.Option(help="set: ID weak accuracy")] = None,
    id_strong: Annotated[float | None, typer.Option(help="set: ID strong accuracy")] = None,
    ood_weak: Annotated[float | None, typer.Option(help="set: OOD weak accuracy")] = None,
    ood_strong: Annotated[float | None, typer.Option(help="set: OOD strong accuracy")] = None,
) -> None:
    """Show a dataset's calibration, or write one from numbers (the trainer's calibrate command does this)."""
    settings = GraderSettings()
    if weak_acc is None and strong_acc is None:
        cal = read_calibration(settings.label_store, dataset)
        typer.echo("not calibrated" if cal is None else cal.model_dump_json(indent=2))
        return
    if weak_acc is None or strong_acc is None:
        raise typer.BadParameter("set both --weak-acc and --strong-acc")
    slices = {}
    if id_weak is not None and id_strong is not None:
        slices["id"] = SliceCalibration(weak_acc=id_weak, strong_acc=id_strong)
    if ood_weak is not None and ood_strong is not None:
        slices["ood"] = SliceCalibration(weak_acc=ood_weak, strong_acc=ood_strong)
    cal = Calibration(weak_acc=weak_acc, strong_acc=strong_acc, seeds=seeds, source=source, slices=slices)
    typer.echo(str(write_calibration(settings.label_store, dataset, cal)))
