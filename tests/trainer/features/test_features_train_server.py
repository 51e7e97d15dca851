"""The `tier` switch through the real train server's start_training (idea and sft recipes), then predict."""

from __future__ import annotations

import os

import pytest
from fastmcp import Client

from tests.mcp_servers.compute_fixtures import (  # noqa: F401  (fixtures)
    TINY_HEAD,
    call,
    compute_env,
    run_tiny_head_idea,
    servers,
    wait_done,
)
from trainer.data import load_split

pytestmark = pytest.mark.slow  # two servers, three jobs: about a minute on an idle 2-core machine


async def test_tier_head_through_start_training(servers: dict, compute_env) -> None:  # noqa: F811
    async with Client(servers["train"].mcp) as train, Client(servers["predict"].mcp) as predict:
        idea = await run_tiny_head_idea(train)
        assert idea["state"] == "succeeded", idea["error"]
        weak = await wait_done(train, (await call(train, "start_training", dataset="sentiment", recipe="weak",
                                                  config={**TINY_HEAD, "max_rows": 40}))["id"])
        assert weak["state"] == "succeeded", weak["error"]
        sft = await wait_done(train, (await call(train, "start_training", dataset="sentiment", recipe="sft",
                                                 config=TINY_HEAD, labels_source=weak["result"]["labels_source"]))["id"])
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

    async with Client(servers["train"].mcp) as train:
        with pytest.raises(ToolError, match="device"):
            await call(train, "start_training", dataset="sentiment", recipe="idea", idea="vanilla_w2s",
                       config={"strong": {"device": "cuda"}})
