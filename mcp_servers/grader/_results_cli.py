"""`w2s-admin results ...`: calibration over seeds and the results table (operator side: reads hidden labels)."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from mcp_servers.grader._results import calibrate, format_table, format_wide, results_table, say_to

results_app = typer.Typer(help="Calibration (weak and ceiling over seeds) and the results table.", no_args_is_help=True)
console = Console()


def quiet_libraries() -> None:
    """Offline, and no deprecation notes or weight-loading bars from the libraries in operator output."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    warnings.filterwarnings("ignore", category=FutureWarning)
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()


@results_app.command("calibrate")
def calibrate_command(
    dataset: Annotated[str, typer.Option(help="prepared dataset")] = "sentiment",
    seeds: Annotated[str, typer.Option(help="comma-separated seeds")] = "0,1,2,3,4",
    out: Annotated[Path, typer.Option(help="where the calibration runs write")] = Path("runs/calibration"),
    fresh: Annotated[bool, typer.Option(help="retrain ceilings already in --out")] = False,
    preset: Annotated[str | None, typer.Option(help="trainer preset (see `w2s presets`), e.g. reference-qwen")] = None,
    set_: Annotated[list[str], typer.Option("--set", help="weak.x / strong.x override key=value; wins over --preset")]
    = [],  # noqa: B006
    write: Annotated[bool, typer.Option(help="write where the grader reads it (--no-write: only the copy in --out)")]
    = True,
    bars: Annotated[bool, typer.Option(help="the trainer's per-step bars besides the per-seed lines")] = False,
) -> None:
    """Train the weak model and the strong ceiling per seed; write mean ± sem where the grader reads them."""
    from trainer.cli import parse_sets, preset_overrides

    quiet_libraries()
    merged = {**preset_overrides(preset), **parse_sets(set_)}
    overrides = {k: v for k, v in merged.items() if k.startswith(("weak.", "strong."))}
    seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    cal = calibrate(dataset, seed_list, out_dir=out, fresh=fresh, write=write, report=say_to(console), progress=bars,
                    **overrides)
    console.print_json(cal.model_dump_json())
    if cal.gap_warning:
        console.print(f"[bold yellow]warning:[/] {cal.gap_warning}", markup=True, highlight=False)


@results_app.command("table")
def table_command(
    runs: Annotated[Path, typer.Option(help="`w2s run` output: <runs>/<idea>/<dataset>/seed<k>/predictions.json")]
    = Path("runs"),
    dataset: Annotated[list[str] | None, typer.Option(help="only these datasets")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="raw rows as JSON")] = False,
    wide: Annotated[bool, typer.Option(help="the reference's layout: a line per dataset, a column per idea")] = False,
    calibration: Annotated[Path | None, typer.Option(help="score against the calibration a `calibrate --out DIR` run "
                                                          "wrote (another regime's) instead of the grader's")] = None,
) -> None:
    """Weak, ceiling, transfer and PGR per idea and dataset, mean ± sem over seeds."""
    rows = results_table(runs, dataset or None, calibration_dir=calibration)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    else:
        typer.echo(format_wide(rows) if wide else format_table(rows))
