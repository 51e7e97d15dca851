"""`w2s-admin models ...`: list the registry and prepare packaged models once (join, dequantize)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from trainer.models._registry import MissingAssetError, registered_models, resolve_model

app = typer.Typer(help="Models: the offline registry.", no_args_is_help=True)
console = Console()


@app.command("list")
def list_command() -> None:
    """Registered names, what they are, and the packages that carry them."""
    for name, spec in sorted(registered_models().items()):
        console.print(f"[bold]{name}[/bold] ({spec.kind}): {spec.description} — {spec.install_command()}")


@app.command()
def prepare(names: Annotated[list[str] | None, typer.Argument(help="Models to prepare (default: all).")] = None) -> None:
    """Build each packaged model's cache folder now, so the first training run does not pay for it."""
    for name in names or sorted(registered_models()):
        try:
            resolved = resolve_model(name)
        except MissingAssetError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
        console.print(f"{name}: {resolved.path}")
