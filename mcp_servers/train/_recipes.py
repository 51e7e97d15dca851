"""Training recipes, registered by name. Each checks a request before a job exists (here, on the host) and names
the `trainer.jobs` function that runs it inside the agent's sandbox. Every recipe stores the config it checked in
one form, the config's `to_dict` (all fields, JSON data), so a job runs exactly what was checked even if defaults
change while it waits.

    idea   run a registered idea end to end (weak artifact, strong student, test predictions)
    sft    fine-tune a model on one split with labels from a source (see `_labels`)
    weak   build (or reuse) a weak artifact: the weak model trained on train_label, its soft labels
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp_servers.jobs import JobError, JobQueue
from mcp_servers.train._config_checks import idea_config, train_config
from mcp_servers.train._labels import resolve_labels
from trainer.data import load_split
from trainer.jobs import job_kind
from trainer.registry import Registry
from trainer.training import config_to_dict


@dataclass(frozen=True)
class TrainRequest:
    agent: str
    workspace: Path
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
    """Validate the request (raising JobError) and return the job's JSON spec; writes nothing anywhere."""
    target: str
    """The registered job kind run inside the agent's sandbox with (spec, JobContext): `job_kind(name).target`."""


RECIPE_REGISTRY: Registry[Recipe] = Registry("recipe")
RECIPES: Mapping[str, Recipe] = RECIPE_REGISTRY.view()
"""Name -> recipe, read-only; `RECIPE_REGISTRY.get(name)` raises with the valid names."""


def register_recipe(recipe: Recipe) -> Recipe:
    """Add a recipe; a second one under a taken name is refused."""
    return RECIPE_REGISTRY.add(recipe.name, recipe)


# --- idea -------------------------------------------------------------------------------------------------------
def _prepare_idea(req: TrainRequest) -> dict[str, Any]:
    """Run a registered idea end to end (weak artifact, strong student); answers a predictions file."""
    if not req.idea:
        raise JobError("recipe 'idea' needs an idea name", "pass idea='vanilla_w2s' (see the trainer's `w2s ideas`)")
    if req.labels_source:
        raise JobError("recipe 'idea' makes its own labels", "drop labels_source, or use recipe 'sft'")
    config = config_to_dict(idea_config(req.idea, req.dataset, req.config))
    del config["dataset"]  # the job passes the dataset itself
    return {"idea": req.idea, "config": config, "dataset": req.dataset}


# --- sft --------------------------------------------------------------------------------------------------------
def _prepare_sft(req: TrainRequest) -> dict[str, Any]:
    """Fine-tune a model on one split with labels from labels_source; answers a checkpoint for predict."""
    if req.idea:
        raise JobError("recipe 'sft' takes no idea", "use recipe 'idea' to run an idea")
    if not req.labels_source:
        raise JobError("recipe 'sft' needs labels_source", "e.g. 'weak:<artifact id>' from start_training(recipe='weak')")
    config = train_config(req.config)
    split = load_split(req.dataset, req.train_split)
    labels = resolve_labels(req.labels_source, split, req.workspace, req.queue, req.agent)
    # Frozen into the job's spec: it trains on exactly what was checked, even if the source changes while it waits,
    # and the server writes nothing into the workspace.
    return {"dataset": req.dataset, "split": req.train_split, "config": config.to_dict(),
            "hard_labels": req.hard_labels, "labels_source": req.labels_source, "labels": labels}


# --- weak -------------------------------------------------------------------------------------------------------
def _prepare_weak(req: TrainRequest) -> dict[str, Any]:
    """Build (or reuse) the weak supervisor trained on train_label; answers an artifact id for 'sft'."""
    from trainer.weak import default_weak_train

    if req.idea or req.labels_source:
        raise JobError("recipe 'weak' trains on train_label's own labels", "drop idea and labels_source")
    config = train_config(req.config, base=default_weak_train(req.dataset)).to_dict()
    del config["progress"]  # the job sets it (`updated(progress=False, **config)`): the one field it owns
    return {"dataset": req.dataset, "config": config}


register_recipe(Recipe("idea", _prepare_idea, job_kind("idea").target))
register_recipe(Recipe("sft", _prepare_sft, job_kind("sft").target))
register_recipe(Recipe("weak", _prepare_weak, job_kind("weak").target))
