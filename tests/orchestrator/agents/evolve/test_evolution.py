"""Selection and mutation: deterministic for a seed, every child valid for the trainer, never a repeat, and the
research direction shifts what is proposed."""

from __future__ import annotations

from collections import Counter

from mcp_servers.train._config_checks import idea_config
from orchestrator.agents.evolve._evolution import Evolver, Scored
from orchestrator.agents.evolve._space import Genome, baselines, validate


def scored_baselines(evolver: Evolver) -> list[Scored]:
    out = []
    for i, genome in enumerate(baselines()):
        assert evolver.admit(genome)
        out.append(Scored(genome, 0.7 + 0.01 * i))
    return out


def test_same_seed_same_search_other_seed_other_search() -> None:
    def run(seed: int) -> list[str]:
        evolver = Evolver("sentiment", seed, "open")
        scored = scored_baselines(evolver)
        keys = []
        for _ in range(4):
            kids = evolver.children(scored, 5)
            keys += [k.key for k in kids]
            scored += [Scored(k, 0.5 + 0.001 * len(keys)) for k in kids]
        return keys

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_every_child_is_valid_for_the_trainer_and_new() -> None:
    evolver = Evolver("sentiment", 0)
    scored = scored_baselines(evolver)
    seen = {s.genome.key for s in scored}
    for _ in range(6):
        kids = evolver.children(scored, 10)
        assert len(kids) == 10
        for kid in kids:
            validate(kid, "sentiment")
            idea_config(kid.idea, "sentiment", kid.config(0, {"strong.max_steps": 2}))
            assert kid.key not in seen
            seen.add(kid.key)
        scored += [Scored(k, 0.6) for k in kids]
    assert not evolver.admit(scored[-1].genome)  # a repeat is refused


def test_mutation_changes_the_genome_and_crossover_keeps_the_first_parents_idea() -> None:
    evolver = Evolver("sentiment", 3)
    parent = Genome("probe_w2s", {"mode": "relabel", "strong.lr": 2e-4})
    mutated = [evolver.mutate(parent) for _ in range(30)]
    assert all(m.key != parent.key for m in mutated)
    other = Genome("vanilla_w2s", {"strong.loss": "soft_xent", "strong.lora_r": 16}, "consistency_fix")
    for _ in range(20):
        child = evolver.crossover(parent, other)
        assert child.idea == "probe_w2s" and child.options.get("mode") == "relabel"
        assert child.postprocess in ("none", "consistency_fix")
        assert set(child.options) <= set(parent.options) | set(other.options)


def test_tournament_prefers_fitter_genomes() -> None:
    evolver = Evolver("sentiment", 0)
    scored = [Scored(Genome("vanilla_w2s", {"strong.lr": lr}), fit)
              for lr, fit in ((1e-4, 0.1), (2e-4, 0.2), (1e-3, 0.9))]
    wins = Counter(evolver.tournament(scored, size=2).options["strong.lr"] for _ in range(300))
    assert wins[1e-3] > wins[2e-4] > wins[1e-4]


def test_direction_biases_the_ideas_proposed() -> None:
    def ideas(direction: str | None) -> Counter[str]:
        evolver = Evolver("sentiment", 5, direction)
        return Counter(evolver.random_genome().idea for _ in range(400))

    assert ideas("interpretability")["probe_w2s"] > 1.5 * ideas(None)["probe_w2s"]
    assert ideas("unsupervised-elicitation")["ue_zeroshot"] > 1.5 * ideas(None)["ue_zeroshot"]


def test_underexplored_ideas_are_upweighted() -> None:
    evolver = Evolver("sentiment", 0)
    evolver.idea_counts.update({"vanilla_w2s": 50})
    picks = Counter(evolver.pick_idea() for _ in range(300))
    assert picks["vanilla_w2s"] < min(picks[i] for i in picks if i != "vanilla_w2s")


def test_frozen_genes_are_never_mutated() -> None:
    from orchestrator.agents.evolve._settings import LORA_GENES

    evolver = Evolver("sentiment", 4, "simplicity-bias", frozen=LORA_GENES)
    scored = scored_baselines(evolver)
    for _ in range(3):
        kids = evolver.children(scored, 10)
        assert kids and all(not (set(k.options) & LORA_GENES) for k in kids)
        scored += [Scored(k, 0.6) for k in kids]
