"""Every recipe stores the config it checked in one form, the config's to_dict: all fields, JSON data, read back
by from_dict into exactly the config that was checked."""

import json

from fastmcp import Client

from mcp_servers.core import read_session
from mcp_servers.jobs import JobRow
from tests.mcp_servers.compute_fixtures import FAST_SFT, FAST_WEAK, call
from trainer.ideas import get_idea
from trainer.training import TrainConfig, config_from_dict
from trainer.weak import default_weak_train


async def test_each_recipe_queues_the_full_checked_config(servers: dict, compute_env) -> None:
    (compute_env.settings.workspaces_dir / "alice").mkdir(parents=True, exist_ok=True)
    for compute in servers.values():
        compute.service.runner.stop()  # what was queued is the point: nothing needs to run
    async with Client(servers["train"].mcp) as train:
        weak = await call(train, "start_training", dataset="sentiment", recipe="weak", config=FAST_WEAK | {"epochs": 1})
        sft = await call(train, "start_training", dataset="sentiment", recipe="sft", labels_source="train_label",
                         train_split="train_label", config=FAST_SFT | {"lora_targets": ["query"]})
        idea = await call(train, "start_training", dataset="sentiment", recipe="idea", idea="ue_fewshot",
                          config={"shots": [2, 4], "strong.lr": 1e-3})
    with read_session(servers["train"].service.queue.engine) as session:
        specs = {job["id"]: json.loads(session.get(JobRow, job["id"]).spec)["args"] for job in (weak, sft, idea)}

    weak_config = default_weak_train().updated(**specs[weak["id"]]["config"])  # as the weak job reads it
    assert weak_config == default_weak_train().updated(epochs=1.0, **FAST_WEAK)
    stored = specs[sft["id"]]["config"]
    assert stored["lora_targets"] == ["query"] and len(stored) == len(TrainConfig().to_dict())
    assert TrainConfig.from_dict(stored) == TrainConfig(lora_targets=("query",), **FAST_SFT)
    idea_spec = specs[idea["id"]]
    config = config_from_dict(get_idea("ue_fewshot").config_cls, {**idea_spec["config"], "dataset": "sentiment"})
    assert config.shots == (2, 4) and config.strong.lr == 1e-3 and idea_spec["dataset"] == "sentiment"
