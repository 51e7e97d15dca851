"""Training job bodies (run inside the sandbox): an idea end to end, a fine-tune on checked labels, a weak
artifact. The train server checks every request before a job exists (mcp_servers/train/_recipes.py)."""

from __future__ import annotations

import json
from typing import Any

from trainer.data import load_split, write_jsonl
from trainer.jobs._context import JobContext
from trainer.jobs._kinds import register_job_kind
from trainer.jobs._progress import MetricsWatcher
from trainer.predictions import hard_labels


@register_job_kind("idea")
def run_idea_job(spec: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Run a registered idea end to end and write its test predictions (recipe `idea`)."""
    from trainer.classifier import check_max_length
    from trainer.ideas import make_config, run_idea

    config = make_config(spec["idea"], dataset=spec["dataset"], **spec["config"])
    # Both models at the start: a strong max_length past its positions used to fail after the weak model trained.
    check_max_length(config.weak.model, config.weak.max_length, "weak.max_length")
    check_max_length(config.strong.model, config.strong.max_length, "strong.max_length")
    ctx.progress(0.02, f"running idea {spec['idea']}")
    with MetricsWatcher(ctx):
        result = run_idea(spec["idea"], config, ctx.run_dir, progress=False)
    return {"predictions_file": ctx.relative(ctx.run_dir / "predictions.json"),
            "metrics": json.loads(json.dumps(result.metrics, default=str)), "test_rows": len(result.ids)}


@register_job_kind("sft")
def run_sft_job(spec: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Fine-tune a model on one split with the labels the server checked and froze (recipe `sft`)."""
    from trainer.classifier import check_max_length
    from trainer.training import TrainConfig, train

    config = TrainConfig.from_dict(spec["config"]).updated(progress=False)
    check_max_length(config.model, config.max_length)
    split = load_split(spec["dataset"], spec["split"])
    labels = [float(p) for p in spec["labels"]]
    if len(labels) != len(split):
        raise ValueError(f"{len(labels)} frozen labels for {len(split)} rows of {spec['dataset']}/{spec['split']}: "
                         "the public split changed after the job was queued; start it again")
    # The labels the server checked and froze into the job, kept next to the run for the agent's reference.
    write_jsonl(ctx.run_dir / "labels.jsonl", ({"id": i, "p": p} for i, p in zip(split.ids, labels, strict=True)))
    if spec["hard_labels"]:
        labels = [float(h) for h in hard_labels(labels)]  # the one rule: >= 0.5 is 1
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
    return {"checkpoint": ctx.relative(ctx.run_dir / "checkpoint"), "steps": result.steps,
            "train_wall_s": round(result.wall_s, 2), "final": last, "model": config.model}


@register_job_kind("weak")
def run_weak_job(spec: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Build (or reuse) a weak artifact: the weak model trained on train_label, its soft labels (recipe `weak`)."""
    from trainer import paths
    from trainer.classifier import check_max_length
    from trainer.weak import WeakConfig, build_weak_artifact, default_weak_train

    config = WeakConfig(spec["dataset"], default_weak_train().updated(progress=False, **spec["config"]))
    check_max_length(config.train.model, config.train.max_length)
    ctx.progress(0.02, f"weak model {config.train.model} on {spec['dataset']}/train_label")
    artifact = build_weak_artifact(config)
    info = json.loads((artifact.path / "info.json").read_text())
    where = paths().artifacts_dir / artifact.id
    return {"artifact_id": artifact.id, "labels_source": f"weak:{artifact.id}", "sizes": info.get("sizes"),
            "weak_wall_s": round(info.get("wall_s", 0.0), 2),
            "artifact_dir": ctx.relative(where) if where.is_relative_to(ctx.workspace) else None}
