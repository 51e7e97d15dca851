from orchestrator._pricing import Usage


def test_cost_follows_the_price_list_and_caches() -> None:
    usage = Usage(model="claude-sonnet-4-5-20250929", input_tokens=1_000_000, output_tokens=100_000)
    assert abs(usage.cost_usd() - (3.0 + 1.5)) < 1e-9
    cached = Usage(model="claude-haiku-4-5", cache_read_input_tokens=1_000_000, cache_creation_input_tokens=1_000_000)
    assert abs(cached.cost_usd() - (0.1 + 1.25)) < 1e-9 and cached.prompt_tokens == 2_000_000


def test_unknown_model_is_charged_the_highest_price() -> None:
    assert Usage(model="some-new-model", output_tokens=1_000_000).cost_usd() == 75.0


def test_merge_keeps_running_totals() -> None:
    usage = Usage()
    usage.merge({"input_tokens": 10, "output_tokens": 1})
    usage.merge({"output_tokens": 40})
    usage.merge({"output_tokens": "x"})
    assert (usage.input_tokens, usage.output_tokens) == (10, 40)
