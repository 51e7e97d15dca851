"""The predict job body (inside the sandbox): P(class 1) for every row of a public split, written as a file the
grader accepts."""

from __future__ import annotations

from typing import Any

import numpy as np

from trainer.data import load_split
from trainer.jobs._context import JobContext
from trainer.jobs._kinds import register_job_kind
from trainer.predictions import hard_labels, write_predictions


@register_job_kind("predict")
def run_predict_job(spec: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """P(class 1) for every row of a public split, from a checkpoint or a causal LM zero-shot."""
    from trainer.classifier import load_classifier
    from trainer.inference import predict, predict_proba

    split = load_split(spec["dataset"], spec["split"])
    ctx.progress(0.05, f"predicting {len(split)} rows of {spec['dataset']}/{spec['split']}")
    if spec.get("checkpoint"):  # workspace-relative, checked by the server; opened here as the agent
        probs = predict(ctx.workspace / spec["checkpoint"], split.rows, batch_size=spec["batch_size"])
    else:  # zero-shot answer-token scoring of a causal LM
        clf = load_classifier(spec["model"], split.task, max_length=spec["max_length"])
        probs = predict_proba(clf, split.rows, spec["batch_size"])
    probs = np.clip(np.asarray(probs, dtype=np.float64), 0.0, 1.0)
    out = ctx.run_dir / "predictions.json"
    written = write_predictions(out, spec["dataset"], spec["split"], split.ids, probs)
    hard = hard_labels(written.predictions)
    return {"predictions_file": ctx.relative(out), "rows": len(split),
            "mean_p": round(float(probs.mean()), 4), "positive_rate": round(float(hard.mean()), 4)}
