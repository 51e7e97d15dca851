"""The `tier` switch through the real train server's start_training (idea and sft recipes), then predict."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastmcp import Client

from tests.conftest import _OPERATOR
from tests.mcp_servers.compute_fixtures import call, compute_env, servers, wait_done  # noqa: F401  (fixtures)
from trainer.data import load_split

pytestmark = pytest.mark.slow  # two servers, three jobs: about a minute on an idle 2-core machine

HEAD = {"model": "minilm-l6", "tier": "head", "max_length": 64, "fast_epochs": 1, "batch_size": 8}


@pytest.fixture
def w2s_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The compute fixtures build a tiny sentiment testbed, which needs the operator's raw corpora."""
    home = tmp_path / "w2s"
    monkeypatch.setenv("W2S_HOME", str(home))
    monkeypatch.setenv("W2S_RAW_DIR", str(_OPERATOR.raw_dir))
    monkeypatch.setenv("W2S_MODELS_DIR", str(_OPERATOR.models_dir))
    for name in ("W2S_DATA_DIR", "W2S_ARTIFACTS_DIR", "W2S_LABELED_DIR", "W2S_LABEL_STORE", "W2S_STATE_DIR",
                 "W2S_WORKSPACES_DIR"):
        monkeypatch.delenv(name, raising=False)
    return home


async def test_tier_head_through_start_training(servers: dict, compute_env) -> None:  # noqa: F811
    async with Client(servers["train"].app.mcp) as train, Client(servers["predict"].app.mcp) as predict:
        idea = await call(train, "start_training", dataset="sentiment", recipe="idea", idea="vanilla_w2s",
                          config={"strong": HEAD, "weak.model": "minilm-l6", "weak.tier": "head",
                                  "weak.max_length": 64})
        idea = await wait_done(train, idea["id"])
        assert idea["state"] == "succeeded", idea["error"]
        weak = await wait_done(train, (await call(train, "start_training", dataset="sentiment", recipe="weak",
                                                  config={**HEAD, "max_rows": 40}))["id"])
        assert weak["state"] == "succeeded", weak["error"]
        sft = await wait_done(train, (await call(train, "start_training", dataset="sentiment", recipe="sft",
                                                 config=HEAD, labels_source=weak["result"]["labels_source"]))["id"])
        assert sft["state"] == "succeeded", sft["error"]
        pred = await wait_done(predict, (await call(predict, "predict", dataset="sentiment",
                                                    checkpoint=sft["id"]))["id"])
        assert pred["state"] == "succeeded", pred["error"]
        out = await call(predict, "read_predictions", job_id=pred["id"])
    workspace = compute_env.settings.workspaces_dir / "alice"
    import json

    assert json.loads((workspace / sft["result"]["checkpoint"] / "classifier.json").read_text())["tier"] == "head"
    assert len(out["predictions"]) == len(load_split("sentiment", "test"))
    metrics = json.loads((workspace / idea["result"]["predictions_file"]).parent.joinpath("metrics.json").read_text())
    assert metrics["config"]["strong"]["tier"] == "head" and metrics["config"]["weak"]["tier"] == "head"
    assert os.path.isfile(workspace / idea["result"]["predictions_file"])


async def test_nested_device_is_refused(servers: dict, compute_env) -> None:  # noqa: F811
    from fastmcp.exceptions import ToolError

    async with Client(servers["train"].app.mcp) as train:
        with pytest.raises(ToolError, match="device"):
            await call(train, "start_training", dataset="sentiment", recipe="idea", idea="vanilla_w2s",
                       config={"strong": {"device": "cuda"}})
