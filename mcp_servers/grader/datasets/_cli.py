"""`w2s-admin data ...`: build testbeds, import labeled data, print manifests (operator side)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mcp_servers.grader.datasets._archive import unpacked
from mcp_servers.grader.datasets._build import build_testbed, read_manifest
from mcp_servers.grader.datasets._prepare import prepare
from mcp_servers.grader.datasets._store import LabelStore
from mcp_servers.grader.datasets.testbeds import SIZES, testbeds
from trainer import paths
from trainer.data import DatasetFormatError

app = typer.Typer(help="Datasets: offline testbeds, reference imports, manifests.", no_args_is_help=True)
console = Console()


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(2)


@app.command()
def build(
    names: Annotated[list[str] | None, typer.Argument(help="Testbeds to build (default: all).")] = None,
    size: Annotated[str, typer.Option(help=f"One of {', '.join(SIZES)}.")] = "default",
    seed: Annotated[int, typer.Option(help="Sampling seed; the same seed gives byte-identical files.")] = 0,
    force: Annotated[bool, typer.Option(help="Rewrite even when the same rows are already built.")] = False,
) -> None:
    """Build offline testbeds from the packaged corpora into the public tree and the label store."""
    for name in names or sorted(testbeds()):
        try:
            built = build_testbed(name, size, seed, force=force)
        except (KeyError, ValueError, FileNotFoundError) as exc:
            _fail(str(exc).strip("'\""))
        sizes = ", ".join(f"{s} {v['rows']}" for s, v in built.manifest["splits"].items())
        console.print(f"built [bold]{name}[/bold] ({size}, seed {seed}): {sizes}")


@app.command("prepare")
def prepare_command(
    source: Annotated[Path, typer.Argument(help="A labeled_data/ folder, one dataset folder, or a .tar.gz of them.")],
) -> None:
    """Import data in the reference format: public copy without hidden labels, labels into the grader's store."""
    where = paths()
    store = LabelStore(where.label_store_dir)
    try:
        if source.is_file():
            with unpacked(source) as root:
                done = prepare(root, where.data_dir, store)
        else:
            done = prepare(source, where.data_dir, store)
    except (DatasetFormatError, ValueError, OSError) as exc:
        _fail(str(exc))
    for item in done:
        console.print(f"prepared [bold]{item.name}[/bold] ({item.task}): {item.sizes}")


@app.command()
def manifest(name: str, as_json: Annotated[bool, typer.Option("--json", help="Print raw JSON.")] = False) -> None:
    """Print a dataset's manifest: rows, class balance per split and subset, sha256 of every file."""
    try:
        data = read_manifest(name)
    except FileNotFoundError as exc:
        _fail(str(exc))
    if as_json:
        console.print_json(json.dumps(data))
        return
    origin = (f"prepared from {data['prepared_from']}" if "prepared_from" in data and "size" not in data
              else f"{data.get('size', '?')}, seed {data.get('seed', '?')}")
    table = Table(title=f"{name} ({data['task']}, {origin})")
    for column in ("split", "subset", "rows", "positive rate", "sha256 (public)"):
        table.add_column(column)
    for split, info in data["splits"].items():
        for subset, balance in info["balance"].items():
            digest = info["sha256"]["public"][:16] if subset == "all" else ""
            table.add_row(split, subset, str(balance["rows"]), f"{balance['positive_rate']:.3f}", digest)
    console.print(table)


@app.command("list")
def list_command() -> None:
    """List datasets in the label store and the testbeds that can be built."""
    store = LabelStore(paths().label_store_dir)
    console.print("prepared: " + (", ".join(store.datasets()) or "none"))
    console.print("testbeds: " + ", ".join(f"{n} ({t.description})" for n, t in sorted(testbeds().items())))
