"""describe_training answers the valid names and every config field with its bounds, generated from the registries
and the config classes; start_training's closed choices are enums in its input schema."""

from fastmcp import Client

from tests.mcp_servers.compute_fixtures import call
from trainer.ideas import registered_ideas
from trainer.losses import registered_losses
from trainer.presets import registered_presets
from trainer.probes import registered_probes


async def test_describe_training_lists_names_and_field_bounds(servers: dict, compute_env) -> None:
    async with Client(servers["train"].mcp) as train:
        tools = {tool.name: tool for tool in await train.list_tools()}
        answer = await call(train, "describe_training")
    assert tools["describe_training"].annotations.read_only_hint is True
    schema = tools["start_training"].input_schema["properties"]
    assert schema["recipe"]["enum"] == ["idea", "sft", "weak"]
    assert {"enum": sorted(registered_ideas()), "type": "string"} in schema["idea"]["anyOf"]
    assert {"enum": list(registered_presets()), "type": "string"} in schema["preset"]["anyOf"]

    names = {key: [item["name"] for item in answer[key]] for key in ("models", "losses", "ideas", "probes", "presets",
                                                                      "recipes")}
    assert {"minilm-l6", "mpnet-base", "smollm2-135m"} <= set(names["models"])
    assert {m["name"]: m["kind"] for m in answer["models"]}["smollm2-135m"] == "causal_lm"
    assert names["losses"] == sorted(registered_losses()) and names["probes"] == sorted(registered_probes())
    assert names["ideas"] == sorted(registered_ideas()) and names["presets"] == list(registered_presets())
    assert names["recipes"] == ["idea", "sft", "weak"] and all(r["summary"] for r in answer["recipes"])
    assert answer["tiers"] == ["head", "lora", "full"] and answer["server_owned"] == ["device"]
    assert "HF id" in answer["model_rule"]

    fields = {f["name"]: f for f in answer["train_config"]}
    epochs = fields["epochs"]
    assert (epochs["minimum"], epochs["maximum"], epochs["default"], epochs["type"]) == (0.001, 100, 2.0, "float")
    assert epochs["expected"] == "a number in [0.001, 100]" and epochs["doc"].startswith("Passes over the data")
    assert fields["schedule"]["choices"] == ["linear", "cosine", "constant"]
    logconf = next(loss for loss in answer["losses"] if loss["name"] == "logconf")
    assert "aux_coef" in {p["name"] for p in logconf["params"]} and logconf["summary"]
    confident = next(idea for idea in answer["ideas"] if idea["name"] == "train_only_on_confident_labels")
    assert {p["name"] for p in confident["params"]} == {"low", "high", "min_rows"}
    low = next(p for p in confident["params"] if p["name"] == "low")
    assert (low["minimum"], low["maximum"], low["expected"]) == (0, 1, "a number in [0, 1]")
    probe = next(idea for idea in answer["ideas"] if idea["name"] == "probe_w2s")
    modes = next(p for p in probe["params"] if p["name"] == "mode")
    assert modes["choices"] == ["relabel", "filter"]
