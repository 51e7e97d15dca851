"""The train MCP server: `start_training` queues a job and answers its id at once; the job tools follow it."""

# no `from __future__ import annotations`: fastmcp reads these signatures.
import secrets
from typing import Annotated, Any, Literal

from pydantic import Field

from mcp_servers.core import WRITES, IdempotencyKeyArg, ServerApp, refusals
from mcp_servers.jobs import ComputeService, ComputeSettings, JobError, JobView, build_compute
from mcp_servers.train._config_checks import preset_config
from mcp_servers.train._discovery import idea_names, preset_names, recipe_names, register_discovery
from mcp_servers.train._recipes import RECIPES, TrainRequest
from trainer.data import SPLITS, list_datasets

INSTRUCTIONS = """Training server for weak-to-strong research (public data only; hidden labels never reach it).
start_training answers a job id at once; follow it with wait_job (<= 300 s a call) or job_status.
Recipes: 'weak' builds the weak supervisor's soft labels (answers an artifact id);
'sft' fine-tunes a model on a split with labels_source 'weak:<artifact>', 'job:<predict job>', 'file:<path>'
or 'train_label' (answers a checkpoint for the predict server); 'idea' runs a registered idea end to end
(answers a predictions file ready for the grader). describe_training lists the valid names (models, losses, ideas,
presets, ...) and every config field with its bounds; a bad config is refused at the call. Each job runs in a
sandbox like yours (your workspace, public data, no network) and writes to runs/<job id>/ in your workspace; paths
in answers are relative to it."""


def build_server(settings: ComputeSettings | None = None, local_token: str | None = None) -> ServerApp[ComputeService]:
    app = build_compute("train", settings, INSTRUCTIONS, local_token)
    compute = app.service
    queue = compute.queue

    register_discovery(app)

    @app.mcp.tool(annotations=WRITES)
    @refusals
    def start_training(
        dataset: Annotated[str, Field(description="public dataset name", min_length=1, max_length=128)],
        recipe: Annotated[recipe_names(), Field(description="see instructions and describe_training")] = "sft",
        idea: Annotated[idea_names() | None, Field(description="idea name, for recipe 'idea'")] = None,
        config: Annotated[dict[str, Any], Field(description="TrainConfig fields for 'sft'/'weak' (model, epochs, lr, "
                                                            "lora_r, loss, ...); the idea's options for 'idea'")] = {},  # noqa: B006
        labels_source: Annotated[str | None, Field(description="for 'sft': weak:<id> | job:<id> | file:<path> | "
                                                               "train_label", max_length=512)] = None,
        train_split: Annotated[Literal["train_unlabel", "train_label", "test"],
                               Field(description="rows to fit, for 'sft'")] = "train_unlabel",
        hard_labels: Annotated[bool, Field(description="'sft': train on argmax labels instead of soft ones")] = False,
        preset: Annotated[preset_names() | None, Field(description="named config bundle under config; config's "
                                                                   "own fields win")] = None,
        idempotency_key: IdempotencyKeyArg = None,
    ) -> JobView:
        """Queue a training job and answer its id at once (poll with job_status or wait_job)."""
        agent = app.identity().agent
        asked = {"tool": "start_training", "dataset": dataset, "recipe": recipe, "idea": idea, "config": config,
                 "labels_source": labels_source, "train_split": train_split, "hard_labels": hard_labels,
                 "preset": preset}
        if (first := queue.replay(agent, idempotency_key, asked)) is not None:
            return first
        if dataset not in list_datasets(compute.settings.data_dir):
            raise JobError(f"unknown dataset {dataset!r}",
                           f"use one of: {', '.join(list_datasets(compute.settings.data_dir)) or 'none built'}")
        assert train_split in SPLITS
        config = {**preset_config(preset, recipe), **config}
        job_id = f"train-{secrets.token_hex(6)}"
        request = TrainRequest(agent=agent, workspace=compute.workspace(), dataset=dataset,
                               idea=idea, config=dict(config), labels_source=labels_source, train_split=train_split,
                               hard_labels=hard_labels, queue=queue)
        recipe_impl = RECIPES.get(recipe)
        if recipe_impl is None:
            raise JobError(f"unknown recipe {recipe!r}", f"use one of: {', '.join(sorted(RECIPES))}")
        spec = recipe_impl.prepare(request)  # a refused request leaves nothing behind: nothing was written
        return queue.submit(agent, "train", recipe_impl.target, spec | {"recipe": recipe}, f"runs/{job_id}",
                            job_id=job_id, idempotency_key=idempotency_key, request=asked)

    return app
