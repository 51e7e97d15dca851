"""`w2s`: run ideas over seeds, build weak artifacts, list ideas / models / losses.

    w2s run --idea vanilla_w2s --dataset sentiment --seeds 0,1,2 [--set strong.epochs=1 --set low=0.2]
    w2s run --preset reference-qwen --dataset chat --seeds 0       # the reference's Qwen setup on a GPU
    w2s weak --dataset sentiment --seed 0
    w2s features --dataset sentiment --model mpnet-base        # cache frozen features for strong.tier=head
    w2s ideas | w2s models | w2s losses | w2s presets
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="w2s-lab trainer: weak-to-strong ideas, weak artifacts, models.", no_args_is_help=True)
console = Console()


def _parse_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw  # bare strings such as a model name need no quotes


def parse_sets(items: list[str]) -> dict[str, Any]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"--set expects key=value, got {item!r}")
        out[key.strip()] = _parse_value(value)
    return out


def preset_overrides(name: str | None) -> dict[str, Any]:
    """A preset's overrides, or a clear command-line error naming the presets there are."""
    if name is None:
        return {}
    from trainer.presets import load_preset

    try:
        return load_preset(name)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--preset") from None


def _quiet_transformers() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers.utils import logging

    logging.set_verbosity_error()


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated integers, got {text!r}", param_hint="--seeds") from None
    if not seeds:
        raise typer.BadParameter("give at least one seed", param_hint="--seeds")
    return seeds


@app.command()
def run(
    idea: Annotated[str, typer.Option(help="idea name (see `w2s ideas`)")] = "vanilla_w2s",
    dataset: Annotated[str, typer.Option(help="public dataset name")] = "sentiment",
    seeds: Annotated[str, typer.Option(help="comma-separated seeds")] = "0",
    set_: Annotated[list[str], typer.Option("--set", help="config override key=value (weak.x / strong.x too)")] = [],  # noqa: B006
    preset: Annotated[str | None, typer.Option(help="named overrides (see `w2s presets`); --set wins")] = None,
    out: Annotated[Path, typer.Option(help="output folder; one subfolder per seed")] = Path("runs"),
    quiet: Annotated[bool, typer.Option(help="no per-step progress bars")] = False,
) -> None:
    """Run an idea over seeds; writes <out>/<idea>/<dataset>/seed<k>/predictions.json, ready to submit."""
    from trainer.ideas import get_idea, make_config, run_idea
    from trainer.training import ConfigError

    try:
        get_idea(idea)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--idea") from None
    overrides = {**preset_overrides(preset), **parse_sets(set_)}
    seed_list = _seeds(seeds)
    try:  # every value is checked by the config classes before anything runs; the dataset's pinned weak side under
        configs = [make_config(idea, **{**overrides, "dataset": dataset, "seed": seed}) for seed in seed_list]
    except ConfigError as err:
        raise typer.BadParameter(str(err), param_hint="--set / --preset") from None
    _quiet_transformers()
    table = Table("seed", "test rows", "mean P(1)", "wall s", "predictions")
    for seed, config in zip(seed_list, configs, strict=True):
        folder = out / idea / dataset / f"seed{seed}"
        console.print(f"[bold]{idea}[/] on {dataset}, seed {seed}")
        result = run_idea(idea, config, folder, progress=not quiet)
        table.add_row(str(seed), str(len(result.ids)), f"{result.predictions.mean():.3f}",
                      f"{result.metrics.get('wall_s', 0):.0f}", str(folder / "predictions.json"))
    console.print(table)


@app.command()
def weak(
    dataset: Annotated[str, typer.Option()] = "sentiment",
    seed: Annotated[int, typer.Option()] = 0,
    set_: Annotated[list[str], typer.Option("--set", help="weak TrainConfig override key=value")] = [],  # noqa: B006
    rebuild: Annotated[bool, typer.Option()] = False,
) -> None:
    """Build (or reuse) the weak artifact for a dataset and seed; prints its id."""
    from trainer.training import ConfigError, apply_overrides
    from trainer.weak import WeakConfig, build_weak_artifact, default_weak_train

    try:
        train = apply_overrides(default_weak_train(dataset), {**parse_sets(set_), "seed": seed})
    except ConfigError as err:
        raise typer.BadParameter(str(err), param_hint="--set") from None
    _quiet_transformers()
    artifact = build_weak_artifact(WeakConfig(dataset, train), rebuild=rebuild)
    console.print(f"{artifact.id}  {artifact.path}")


@app.command()
def features(
    dataset: Annotated[str, typer.Option(help="public dataset name")] = "sentiment",
    model: Annotated[str, typer.Option(help="model whose frozen features to cache (the strong model by default)")]
    = "mpnet-base",
    max_length: Annotated[int, typer.Option(help="tokens per input, as the student's max_length", min=8, max=131072)]
    = 256,
    splits: Annotated[str, typer.Option(help="comma-separated public splits")] = "train_label,train_unlabel,test",
) -> None:
    """Cache the model's frozen features of a dataset's public splits (what `strong.tier=head` trains on)."""
    from trainer.training import model_problem

    if problem := model_problem(model):
        raise typer.BadParameter(problem, param_hint="--model")
    _quiet_transformers()
    from trainer.features import cache_dataset_features

    for path in cache_dataset_features(model, dataset, [s for s in splits.split(",") if s.strip()], max_length):
        console.print(str(path))


@app.command()
def ideas() -> None:
    """List registered ideas and their options."""
    from dataclasses import fields

    from trainer.ideas import IdeaConfig, registered_ideas

    base = {f.name for f in fields(IdeaConfig)}
    table = Table("idea", "summary", "options (besides dataset, seed, weak.*, strong.*)")
    for name, spec in sorted(registered_ideas().items()):
        opts = ", ".join(f"{f.name}={f.default!r}" for f in fields(spec.config_cls) if f.name not in base)
        table.add_row(name, spec.summary, opts)
    console.print(table)


@app.command()
def models() -> None:
    """List registry models (any HF id or local path works too)."""
    from trainer.models import registered_models

    table = Table("name", "kind", "hf id", "description")
    for name, spec in sorted(registered_models().items()):
        table.add_row(name, spec.kind.value, spec.hf_id, spec.description)
    console.print(table)


@app.command()
def presets() -> None:
    """List config presets (`w2s run --preset NAME`)."""
    from trainer.presets import load_preset, registered_presets

    table = Table("preset", "what for", "overrides")
    for name, summary in registered_presets().items():
        table.add_row(name, summary, ", ".join(f"{k}={v}" for k, v in load_preset(name).items()))
    console.print(table)


@app.command()
def losses() -> None:
    """List registered losses."""
    from trainer.losses import registered_losses

    table = Table("loss", "summary")
    for name, cls in sorted(registered_losses().items()):
        doc = __import__(cls.__module__, fromlist=["_"]).__doc__ or ""
        table.add_row(name, doc.strip().splitlines()[0] if doc.strip() else "")
    console.print(table)


if __name__ == "__main__":
    app()
