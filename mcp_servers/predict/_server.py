"""The predict MCP server: `predict` queues a job (prediction is long on CPU); `read_predictions` returns its file."""

# no `from __future__ import annotations`: fastmcp reads these signatures.
import secrets
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from mcp_servers.core import READ_ONLY, WRITES, IdempotencyKeyArg, ServerApp, refusals
from mcp_servers.jobs import (
    ComputeService,
    ComputeSettings,
    JobError,
    JobState,
    JobView,
    build_compute,
    check_workspace_file,
    read_workspace_file,
    relative_path,
)
from trainer.data import list_datasets
from trainer.jobs import job_kind
from trainer.models import ModelKind, resolve_model
from trainer.predictions import PredictionsFormatError, parse_predictions

INSTRUCTIONS = """Prediction server for weak-to-strong research (public data only).
predict answers a job id at once; follow it with wait_job. Give a checkpoint (a finished sft train job's id, or
a checkpoint folder in your workspace), or a causal LM name for zero-shot answer-token scoring. read_predictions
returns the finished file: one P(class 1) per row in file order, which submit_predictions accepts as is.
Each job runs in a sandbox like yours; paths in answers are relative to your workspace."""


class Predictions(BaseModel):
    dataset: str
    split: str
    predictions: list[float] = Field(description="P(class 1) per row, in the public file's order")
    hard: list[int] = Field(description="0/1 per row: 1 where P >= 0.5, the grader's rule")
    ids: list[str] | None = Field(default=None, description="row ids, when asked for")


def build_server(settings: ComputeSettings | None = None, local_token: str | None = None) -> ServerApp[ComputeService]:
    app = build_compute("predict", settings, INSTRUCTIONS, local_token)
    compute = app.service
    queue = compute.queue

    def _checkpoint(source: str) -> str:
        """The checkpoint as a workspace-relative folder; the job loads it inside the sandbox, as the agent."""
        if source.startswith("train-") and "/" not in source:
            view = queue.view(source, app.identity().agent)
            if view.state != JobState.SUCCEEDED or not view.result or "checkpoint" not in view.result:
                raise JobError(f"job {source} is {view.state} and has no checkpoint",
                               "wait for an 'sft' training job to succeed, then pass its id")
            source = str(view.result["checkpoint"])
        folder = relative_path(source).rstrip("/") or "."
        try:
            check_workspace_file(compute.workspace(), f"{folder}/classifier.json")
        except JobError as exc:
            if "does not exist" not in exc.problem:
                raise
            raise JobError(f"{source!r} is not a checkpoint folder (no classifier.json)",
                           "pass an sft job id or its runs/<job id>/checkpoint folder") from None
        return folder

    @app.mcp.tool(annotations=WRITES)
    @refusals
    def predict(
        dataset: Annotated[str, Field(description="public dataset name", min_length=1, max_length=128)],
        split: Annotated[Literal["test", "train_unlabel", "train_label"], Field(description="rows to score")] = "test",
        checkpoint: Annotated[str | None, Field(description="sft train job id, or a checkpoint folder in your "
                                                            "workspace", max_length=512)] = None,
        model: Annotated[str | None, Field(description="causal LM for zero-shot scoring when no checkpoint",
                                           max_length=256)] = None,
        batch_size: Annotated[int, Field(ge=1, le=1024)] = 64,
        max_length: Annotated[int, Field(ge=8, le=131072)] = 512,
        idempotency_key: IdempotencyKeyArg = None,
    ) -> JobView:
        """Queue a prediction job; its result names a predictions file (read it with read_predictions)."""
        agent = app.identity().agent
        asked = {"tool": "predict", "dataset": dataset, "split": split, "checkpoint": checkpoint, "model": model,
                 "batch_size": batch_size, "max_length": max_length}
        if (first := queue.replay(agent, idempotency_key, asked)) is not None:
            return first
        if dataset not in list_datasets(compute.settings.data_dir):
            raise JobError(f"unknown dataset {dataset!r}",
                           f"use one of: {', '.join(list_datasets(compute.settings.data_dir)) or 'none built'}")
        if (checkpoint is None) == (model is None):
            raise JobError("give exactly one of checkpoint or model", "a trained checkpoint, or a causal LM name")
        if model is not None:
            from trainer.training import model_problem  # the rule TrainConfig applies; nothing is fetched

            if problem := model_problem(model):
                raise JobError(problem, "the train server's describe_training lists the registry models")
        if model is not None and resolve_model(model).kind is ModelKind.ENCODER:
            raise JobError(f"{model} is an encoder: its classification head is untrained",
                           "train it first (start_training recipe 'sft') and pass the job id as checkpoint")
        spec = {"dataset": dataset, "split": split, "checkpoint": _checkpoint(checkpoint) if checkpoint else None,
                "model": model, "batch_size": batch_size, "max_length": max_length}
        job_id = f"predict-{secrets.token_hex(6)}"
        return queue.submit(agent, "predict", job_kind("predict").target, spec, f"runs/{job_id}",
                            job_id=job_id, idempotency_key=idempotency_key, request=asked)

    @app.mcp.tool(annotations=READ_ONLY)
    @refusals
    def read_predictions(
        job_id: Annotated[str, Field(description="a finished job with predictions: predict, or an idea train job",
                                     max_length=64)],
        include_ids: Annotated[bool, Field(description="also return the row ids")] = False,
    ) -> Predictions:
        """The predictions of a finished job that wrote some (a predict job, or an idea train job), ready for
        submit_predictions (pass include_ids and send the ids along, so the grader checks the row order)."""
        view = queue.view(job_id, app.identity().agent)
        where = str((view.result or {}).get("predictions_file", ""))
        if view.state != JobState.SUCCEEDED or not where:
            raise JobError(f"job {job_id} is a {view.state} {view.kind} job without predictions",
                           "wait for a predict job or an idea train job to succeed")
        try:  # read once, beneath the workspace, no link followed; what was read is what is answered
            data = parse_predictions(read_workspace_file(compute.workspace(), where))
        except PredictionsFormatError as exc:
            raise JobError(f"{where!r} is not a predictions file of this job (changed since it ran?): {exc}",
                           "run the job again") from None
        return Predictions(dataset=data.dataset, split=data.split, predictions=data.predictions, hard=data.hard(),
                           ids=data.ids if include_ids else None)

    return app
