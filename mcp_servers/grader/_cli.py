"""Operator commands of the grader (mounted in `w2s-admin` as `grader`)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlmodel import select

from mcp_servers.core import create_sqlite_engine, read_session
from mcp_servers.grader._board import leaderboard, publish, score_private
from mcp_servers.grader._calibration import Calibration, SliceCalibration, read_calibration, write_calibration
from mcp_servers.grader._finals import reopen
from mcp_servers.grader._markdown import board_markdown
from mcp_servers.grader._records import SubmissionRow
from mcp_servers.grader._service import Grader, GraderError, GraderSettings

grader_app = typer.Typer(help="Grader operator commands: private scoring, publication, calibration, audit.",
                         no_args_is_help=True)
_out = Console()


def _grader() -> Grader:
    settings = GraderSettings()
    return Grader(settings, create_sqlite_engine(settings.db_path("grader")))


@grader_app.command("score-private")
def score_private_cmd(dataset: Annotated[str, typer.Argument(help="dataset name")]) -> None:
    """Preview: score the private part of every agent's final submissions (shown to nobody until publish)."""
    try:
        rows = score_private(_grader(), dataset)
    except GraderError as exc:
        raise typer.BadParameter(str(exc)) from None
    table = Table("submission", "private accuracy", "private pgr")
    for r in rows:
        table.add_row(str(r.submission_id), f"{r.accuracy:.4f}", "" if r.pgr is None else f"{r.pgr:.4f}")
    _out.print(table)


@grader_app.command("publish")
def publish_cmd(dataset: Annotated[str, typer.Argument(help="dataset name")]) -> None:
    """Score the final submissions' private part, show it on the leaderboard and close the dataset's run."""
    try:
        path = publish(_grader(), dataset)
    except GraderError as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo(str(path))


@grader_app.command("reopen")
def reopen_cmd(dataset: Annotated[str, typer.Argument(help="dataset name")]) -> None:
    """Open a published (closed) dataset for a new run: submissions and final selections are accepted again."""
    try:
        done = reopen(_grader(), dataset)
    except GraderError as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo(f"{dataset}: " + ("re-opened" if done else "was not closed"))


@grader_app.command("leaderboard")
def leaderboard_cmd(
    dataset: Annotated[str, typer.Argument(help="dataset name")],
    markdown: Annotated[bool, typer.Option("--markdown", help="Markdown tables (agent strings escaped)")] = False,
) -> None:
    """The leaderboard as agents see it: JSON, or Markdown for reports."""
    try:
        board = leaderboard(_grader(), dataset)
    except GraderError as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo(board_markdown(board) if markdown else board.model_dump_json(indent=2))


@grader_app.command("agents")
def agents_cmd(dataset: Annotated[str, typer.Argument(help="dataset name")]) -> None:
    """Per agent: submissions, Ladder improvements, flags (climb), finals, best public and private, the gap."""
    try:
        board = leaderboard(_grader(), dataset)
    except GraderError as exc:
        raise typer.BadParameter(str(exc)) from None
    table = Table("agent", "subs", "improved", "flagged", "climb", "best public", "finals", "private", "gap")
    for a in board.agents:
        table.add_row(Text(a.agent), str(a.submissions), str(a.improvements), str(a.flagged), str(a.climb_flagged),
                      f"{a.accuracy:.3f}", ",".join(map(str, a.final_submission_ids)) + (" (default)" * a.final_default),
                      "" if a.private_accuracy is None else f"{a.private_accuracy:.3f}",
                      "" if a.gap_accuracy is None else f"{a.gap_accuracy:+.3f}")
    _out.print(table)


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
        # agent-written strings are data: Text() is never parsed as rich markup ("[/]" must not crash the view)
        table.add_row(str(r[0]), Text(r[1]), r[2].isoformat(timespec="seconds"), Text(r[3] or ""), f"{exact:.4f}",
                      f"{r[5]:.3f}", Text(", ".join(json.loads(r[6]))))
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
