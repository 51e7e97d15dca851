"""`w2s-admin demo`: weak-to-strong end to end on the offline default, scored by the grader's library.

Operator side: it calibrates with hidden labels (weak accuracy and the strong ceiling) when the dataset has no
calibration yet, runs an idea through the trainer exactly as an agent would (public data only), then scores the
predictions files against the label store and prints the table.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from mcp_servers.grader._calibration import read_calibration
from mcp_servers.grader._results import calibrate, format_table, results_table, say_to
from mcp_servers.grader._results_cli import quiet_libraries
from trainer import paths

console = Console()


def demo(
    dataset: Annotated[str, typer.Option(help="a prepared dataset (default: the offline testbed)")] = "sentiment",
    idea: Annotated[str, typer.Option(help="idea to run (see `w2s ideas`)")] = "vanilla_w2s",
    seeds: Annotated[str, typer.Option(help="comma-separated seeds")] = "0",
    runs: Annotated[Path, typer.Option(help="where predictions files go")] = Path("runs/demo"),
    recalibrate: Annotated[bool, typer.Option(help="calibrate again even if the dataset has a calibration")] = False,
) -> None:
    """Calibrate (if needed), run an idea over seeds, and print weak, ceiling, transfer and PGR."""
    quiet_libraries()
    from trainer.ideas import make_config, run_idea

    seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    store = paths().label_store_dir
    started = time.perf_counter()
    if recalibrate or read_calibration(store, dataset) is None:
        console.print(f"[bold]calibrating[/] {dataset}: weak model on train_label, strong ceiling on true labels "
                      f"(seeds {seeds})")
        cal = calibrate(dataset, seed_list, out_dir=runs / "calibration", report=say_to(console))
        elapsed = time.perf_counter() - started
        console.print(f"  weak {cal.weak_acc:.4f}, ceiling {cal.strong_acc:.4f} ({elapsed:.0f} s)")
        if cal.gap_warning:
            console.print(f"  [bold yellow]warning:[/] {cal.gap_warning}", highlight=False)
    for seed in seed_list:
        t = time.perf_counter()
        console.print(f"[bold]{idea}[/] on {dataset}, seed {seed} (public data only, as an agent sees it)")
        run_idea(idea, make_config(idea, dataset=dataset, seed=seed), runs / idea / dataset / f"seed{seed}",
                 progress=True)
        console.print(f"  done in {time.perf_counter() - t:.0f} s")
    console.print(format_table(results_table(runs, [dataset])))
    console.print(f"total {time.perf_counter() - started:.0f} s; predictions under {runs}/")
