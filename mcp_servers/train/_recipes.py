"""Training recipes, registered by name. Each checks a request before a job exists and runs it in a worker.

    idea   run a registered idea end to end (weak artifact, strong student, test predictions)
    sft    fine-tune a model on one split with labels from a source (see `_labels`)
    weak   build (or reuse) a weak artifact: the weak model trained on train_label, its soft labels
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp_servers.jobs import JobContext, JobError, JobQueue
from mcp_servers.jobs._progress import MetricsWatcher
from mcp_servers.train._config_checks import idea_config, train_config
from mcp_servers.train._labels import resolve_labels
from trainer.data import iter_jsonl, load_split, write_jsonl


@dataclass(frozen=True)
class TrainRequest:
    agent: str
    workspace: Path
    run_dir: Path
    dataset: str
    idea: str | None
    config: dict[str, Any]
    labels_source: str | None
    train_split: str
    hard_labels: bool
    queue: JobQueue


@dataclass(frozen=True)
class Recipe:
    name: str
    prepare: Callable[[TrainRequest], dict[str, Any]]
    """Validate the request (raising JobError) and return the job's JSON spec; may write inputs into run_dir."""
    target: str
    """`module:function` the worker runs with (spec, JobContext)."""


RECIPES: dict[str, Recipe] = {}


def register_recipe(recipe: Recipe) -> Recipe:
    RECIPES[recipe.name] = recipe
    return recipe


def _relative(ctx: JobContext, path: Path) -> str:
    """Paths in results are relative to the agent's workspace (the sandbox mounts it elsewhere)."""
    return str(path.relative_to(ctx.run_dir.parent.parent))


# --- idea -------------------------------------------------------------------------------------------------------
def _prepare_idea(req: TrainRequest) -> dict[str, Any]:
    if not req.idea:
        raise JobError("recipe 'idea' needs an idea name", "pass idea='vanilla_w2s' (see the trainer's `w2s ideas`)")
    if req.labels_source:
        raise JobError("recipe 'idea' makes its own labels", "drop labels_source, or use recipe 'sft'")
    idea_config(req.idea, req.dataset, req.config)
    return {"idea": req.idea, "config": req.config, "dataset": req.dataset}


def run_idea_job(spec: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    from trainer.ideas import make_config, run_idea

    config = make_config(spec["idea"], dataset=spec["dataset"], **spec["config"])
    ctx.progress(0.02, f"running idea {spec['idea']}")
    with MetricsWatcher(ctx):
        result = run_idea(spec["idea"], config, ctx.run_dir, progress=False)
    return {"predictions_file": _relative(ctx, ctx.run_dir / "predictions.json"),
            "metrics": json.loads(json.dumps(result.metrics, default=str)), "test_rows": len(result.ids)}


# --- sft --------------------------------------------------------------------------------------------------------
def _prepare_sft(req: TrainRequest) -> dict[str, Any]:
    if req.idea:
        raise JobError("recipe 'sft' takes no idea", "use recipe 'idea' to run an idea")
    if not req.labels_source:
        raise JobError("recipe 'sft' needs labels_source", "e.g. 'weak:<artifact id>' from start_training(recipe='weak')")
    config = train_config(req.config)
    split = load_split(req.dataset, req.train_split)
    labels = resolve_labels(req.labels_source, split, req.workspace, req.queue, req.agent)
    req.run_dir.mkdir(parents=True, exist_ok=True)
    # The job trains on exactly what was checked, even if the source changes while it waits in the queue.
    write_jsonl(req.run_dir / "labels.jsonl", ({"id": i, "p": p} for i, p in zip(split.ids, labels, strict=True)))
    return {"dataset": req.dataset, "split": req.train_split, "config": dataclasses.asdict(config) | {
        "betas": list(config.betas), "lora_targets": list(config.lora_targets) if config.lora_targets else None},
        "hard_labels": req.hard_labels, "labels_source": req.labels_source}


def run_sft_job(spec: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    from trainer.training import TrainConfig, train

    config = TrainConfig.from_dict(spec["config"]).updated(progress=False)
    split = load_split(spec["dataset"], spec["split"])
    by_id = {r["id"]: float(r["p"]) for r in iter_jsonl(ctx.run_dir / "labels.jsonl")}
    labels = [by_id[i] for i in split.ids]
    if spec["hard_labels"]:
        labels = [float(p > 0.5) for p in labels]
    ctx.progress(0.02, f"training {config.model} on {len(split)} {spec['split']} rows")

    def on_log(record: dict[str, Any]) -> None:
        # Exact progress from the training loop itself; raising here is how a cancel stops it between steps.
        ctx.check_cancelled()
        numbers = {k: v for k, v in record.items() if isinstance(v, int | float)}
        ctx.progress(0.02 + 0.95 * record["step"] / record["total_steps"],
                     f"step {record['step']}/{record['total_steps']}, loss {record['loss']:.4f}", numbers)

    result = train(config, split.rows, labels, ctx.run_dir, run_name=f"sft {spec['dataset']}", on_log=on_log)
    last = result.history[-1] if result.history else {}
    ctx.progress(0.99, "trained", metrics=last, force=True)
    return {"checkpoint": _relative(ctx, ctx.run_dir / "checkpoint"), "steps": result.steps,
            "train_wall_s": round(result.wall_s, 2), "final": last, "model": config.model}


# --- weak -------------------------------------------------------------------------------------------------------
def _prepare_weak(req: TrainRequest) -> dict[str, Any]:
    from trainer.weak import default_weak_train

    if req.idea or req.labels_source:
        raise JobError("recipe 'weak' trains on train_label's own labels", "drop idea and labels_source")
    train_config(req.config, base=default_weak_train())
    return {"dataset": req.dataset, "config": dict(req.config)}


def run_weak_job(spec: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    from trainer.weak import WeakConfig, build_weak_artifact, default_weak_train

    config = WeakConfig(spec["dataset"], default_weak_train().updated(progress=False, **spec["config"]))
    ctx.progress(0.02, f"weak model {config.train.model} on {spec['dataset']}/train_label")
    artifact = build_weak_artifact(config)
    info = json.loads((artifact.path / "info.json").read_text())
    return {"artifact_id": artifact.id, "labels_source": f"weak:{artifact.id}", "sizes": info.get("sizes"),
            "weak_wall_s": round(info.get("wall_s", 0.0), 2)}


register_recipe(Recipe("idea", _prepare_idea, "mcp_servers.train._recipes:run_idea_job"))
register_recipe(Recipe("sft", _prepare_sft, "mcp_servers.train._recipes:run_sft_job"))
register_recipe(Recipe("weak", _prepare_weak, "mcp_servers.train._recipes:run_weak_job"))
