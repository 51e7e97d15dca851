"""The server checks only what is its own (the device); everything else is the config classes' own check, run at
`start_training` so a bad value is refused at the call with the field's path, and nothing is queued."""

import json
from pathlib import Path

import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError

from mcp_servers.jobs import JobError
from mcp_servers.train._config_checks import idea_config, preset_config, train_config
from tests.mcp_servers.compute_fixtures import call


def test_preset_parts_per_recipe() -> None:
    assert preset_config(None, "sft") == {}
    sft, weak = preset_config("smoke", "sft"), preset_config("smoke", "weak")
    assert sft["max_steps"] == 2 and "lora" not in sft and weak["lora"] is False
    assert train_config({**sft, "max_steps": 1}).max_steps == 1
    idea = idea_config("vanilla_w2s", "sentiment", preset_config("reference-qwen", "idea"))
    assert idea.strong.model == "Qwen/Qwen3-4B-Base" and idea.weak.rslora  # HF ids pass unchanged


def test_unknown_preset_names_the_known_ones() -> None:
    with pytest.raises(JobError, match="unknown preset 'fast'") as caught:
        preset_config("fast", "idea")
    assert "smoke" in caught.value.fix and "reference-qwen" in caught.value.fix


def test_the_device_is_the_servers_own_at_any_depth() -> None:
    for overrides in ({"device": "cuda"}, {"strong.device": "cpu"}, {"weak": {"device": "cpu"}}):
        with pytest.raises(JobError, match="the server chooses the device"):
            idea_config("vanilla_w2s", "sentiment", overrides)
    with pytest.raises(JobError, match=r"^config.device: the server chooses"):
        train_config({"device": "cuda"})


def test_config_errors_name_the_path_inside_config() -> None:
    with pytest.raises(JobError, match=r"^config.strong.epochs: expected a number in \[0.001, 100\], got '1'") as e:
        idea_config("vanilla_w2s", "sentiment", {"strong": {"epochs": "1"}})
    assert "describe_training" in e.value.fix
    with pytest.raises(JobError, match=r"^config.dataset: the dataset is start_training's own argument"):
        idea_config("vanilla_w2s", "sentiment", {"dataset": "other"})
    with pytest.raises(JobError, match="unknown idea 'nope'"):
        idea_config("nope", "sentiment", {})
    with pytest.raises(JobError, match=r"^config.contamination: expected a number in \[0, 1\), got 1.5"):
        idea_config("probe_w2s", "sentiment", {"contamination": 1.5})


def _workspace(compute_env) -> Path:
    folder = compute_env.settings.workspaces_dir / "alice"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.parametrize(("args", "message"), [
    ({"recipe": "weak", "config": {"epochs": "1"}}, "config.epochs: expected a number in [0.001, 100], got '1'"),
    ({"recipe": "weak", "config": {"lr": "fast"}}, "config.lr: expected a number in [0, 1], got 'fast'"),
    ({"recipe": "weak", "config": {"epochs": -1}}, "config.epochs: expected a number in [0.001, 100], got -1"),
    ({"recipe": "sft", "labels_source": "train_label", "train_split": "train_label", "config": {"loss": "xnet"}},
     "config.loss: unknown loss 'xnet'; available: entropy, kl, logconf, soft_xent, window, xent"),
    ({"recipe": "sft", "labels_source": "train_label", "train_split": "train_label",
      "config": {"model": "mpnet-bsae"}}, "config.model: unknown model 'mpnet-bsae': not a registry name"),
    ({"recipe": "idea", "idea": "vanilla_w2s", "config": {"strong.epochs": "1"}},
     "config.strong.epochs: expected a number in [0.001, 100], got '1'"),
    ({"recipe": "idea", "idea": "vanilla_w2s", "config": {"strong": {"loss": "xnet"}}},
     "config.strong.loss: unknown loss 'xnet'"),
])
async def test_start_training_refuses_bad_configs_at_the_call(servers: dict, compute_env, args: dict,
                                                              message: str) -> None:
    workspace = _workspace(compute_env)
    async with Client(servers["train"].mcp) as train:
        with pytest.raises(ToolError) as caught:
            await call(train, "start_training", dataset="sentiment", **args)
        assert message in str(caught.value), str(caught.value)
        assert "not supported" not in str(caught.value)
        assert (await call(train, "list_jobs"))["result"] == []  # refused at the call: nothing queued
    assert not (workspace / "runs").exists() or not any((workspace / "runs").iterdir())



def test_an_idea_request_gets_the_datasets_pinned_weak_side(tiny_home: Path) -> None:
    (tiny_home / "public" / "data" / "tiny" / "manifest.json").write_text(json.dumps({"weak": {"max_rows": 5}}))
    assert idea_config("vanilla_w2s", "tiny", {}).weak.max_rows == 5
    assert idea_config("vanilla_w2s", "tiny", {"weak": {"max_rows": 8}}).weak.max_rows == 8
    assert idea_config("vanilla_w2s", "tinypref", {}).weak.max_rows is None
