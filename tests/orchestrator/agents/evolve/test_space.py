"""The search space: genomes round-trip, baselines are valid, and the trainer's own checks refuse bad genomes."""

from __future__ import annotations

import pytest

from mcp_servers.train._config_checks import idea_config
from orchestrator.agents.evolve._space import Genome, InvalidGenome, available, baselines, validate


def test_baselines_are_every_searchable_idea_and_pass_the_train_servers_checks() -> None:
    genomes = baselines()
    assert genomes[0].idea == "vanilla_w2s"
    assert {g.idea for g in genomes} == set(available()[0]) and "critic" not in available()[0]
    for genome in genomes:
        validate(genome, "sentiment")
        idea_config(genome.idea, "sentiment", genome.config(3))


def test_genome_round_trip_key_and_config() -> None:
    genome = Genome("probe_w2s", {"strong.lr": 2e-4, "mode": "relabel"}, "group_normalize")
    again = Genome.from_dict(genome.to_dict())
    assert again == genome and again.key == genome.key
    assert genome.config(7, {"strong.max_steps": 3}) == {"strong.lr": 2e-4, "mode": "relabel", "seed": 7,
                                                         "strong.max_steps": 3}
    assert "mode=relabel" in genome.describe() and "post=group_normalize" in genome.describe()
    with pytest.raises(InvalidGenome, match="'idea' string"):
        Genome.from_dict({"options": {}})
    with pytest.raises(InvalidGenome, match="'options'"):
        Genome.from_dict({"idea": "vanilla_w2s", "options": [1]})


@pytest.mark.parametrize(("genome", "message"), [
    (Genome("critic"), "not searchable"),
    (Genome("no_such_idea"), "not searchable"),
    (Genome("vanilla_w2s", postprocess="shuffle"), "postprocess"),
    (Genome("vanilla_w2s", {"weak.lr": 1e-3}), "weak model"),
    (Genome("vanilla_w2s", {"strong.device": "cuda"}), "device"),
    (Genome("vanilla_w2s", {"low": 0.2}), "low: unknown field"),
    (Genome("vanilla_w2s", {"strong.loss": "no_such_loss"}), "no_such_loss"),
    (Genome("vanilla_w2s", {"strong.loss": "logconf", "strong.loss_params": {"bogus": 1}}), "bogus"),
    (Genome("probe_w2s", {"probe": "no_such_probe"}), "no_such_probe"),
    (Genome("vanilla_w2s", {"strong.lr": -1.0}), "lr: expected a number in"),
    (Genome("vanilla_w2s", {"strong.epochs": 0.0}), r"strong.epochs: expected a number in \[0.001, 100\]"),
    (Genome("vanilla_w2s", {"strong.lora_r": 0}), r"strong.lora_r: expected an integer in \[1, 4096\]"),
    (Genome("probe_w2s", {"contamination": 1.0}), r"contamination: expected a number in \[0, 1\)"),
])
def test_invalid_genomes_are_named(genome: Genome, message: str) -> None:
    with pytest.raises(InvalidGenome, match=message):
        validate(genome, "sentiment")
