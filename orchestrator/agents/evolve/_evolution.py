"""Selection and variation: tournament selection by fitness, mutation of one or two genes (biased by the agent's
research direction and towards ideas the population has explored least), uniform crossover. Every child is
validated against the trainer; an invalid or already-seen child is redrawn. All randomness comes from one
`random.Random`, so a seed gives the same search."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from orchestrator.agents.evolve._space import ORDERED, POSTPROCESS, Genome, InvalidGenome, available, validate

DIRECTION_BIAS: dict[str, dict[str, float]] = {
    "unsupervised-elicitation": {"ue_zeroshot": 3, "ue_fewshot": 3, "postprocess": 2},
    "confidence-reweighting": {"train_only_on_confident_labels": 3, "probe_w2s": 2, "strong.loss": 2},
    "w2s-plus-elicitation": {"probe_w2s": 3, "ue_zeroshot": 2, "postprocess": 2},
    "distillation": {"vanilla_w2s": 2, "strong.loss": 3, "hard_labels": 3, "strong.loss_params": 2},
    "simplicity-bias": {"strong.lr": 3, "strong.epochs": 3, "strong.lora_r": 3, "strong.weight_decay": 2},
    "learnability": {"train_only_on_confident_labels": 3, "strong.loss": 2, "strong.epochs": 2},
    "evolutionary-search": {},
    "interpretability": {"probe_w2s": 3, "probe": 2, "mode": 2},
    "open": {},
}
"""Direction (prompts/directions.yaml) -> multiplier on the weight of an idea or a gene; unknown names weigh 1."""


@dataclass
class Scored:
    genome: Genome
    fitness: float


class Evolver:
    """Proposes genomes; remembers every key it proposed so no experiment is run twice."""

    def __init__(self, dataset: str, seed: int, direction: str | None = None,
                 check: Callable[[Genome], Genome] | None = None, frozen: frozenset[str] = frozenset()) -> None:
        self.dataset, self.rng = dataset, random.Random(seed)
        self.bias = DIRECTION_BIAS.get(direction or "", {})
        self.check = check or (lambda g: validate(g, dataset))
        self.frozen = frozen
        """Genes never mutated (the LoRA-side hyperparameters when screening cannot see them)."""
        self.seen: set[str] = set()
        self.idea_counts: Counter[str] = Counter()

    def _weight(self, name: str) -> float:
        return float(self.bias.get(name, 1.0))

    def _choice(self, items: Sequence[Any], weights: Sequence[float]) -> Any:
        return self.rng.choices(list(items), weights=list(weights), k=1)[0]

    def admit(self, genome: Genome) -> bool:
        """Record a genome as proposed; False if it was proposed before or the trainer would refuse it."""
        try:
            self.check(genome)
        except InvalidGenome:
            return False
        if genome.key in self.seen:
            return False
        self.seen.add(genome.key)
        self.idea_counts[genome.idea] += 1
        return True

    # --- variation --------------------------------------------------------------------------------------------
    def pick_idea(self, exclude: str | None = None) -> str:
        """Direction weight divided by how often the idea was tried: underexplored ideas are upweighted."""
        ideas = [name for name in available()[0] if name != exclude] or list(available()[0])
        return self._choice(ideas, [self._weight(n) / (1 + self.idea_counts[n]) for n in ideas])

    def _genes(self, genome: Genome) -> dict[str, list[Any]]:
        idea_space, strong, loss_params = available()
        genes: dict[str, list[Any]] = {**idea_space[genome.idea], **strong, "postprocess": list(POSTPROCESS),
                                       "idea": []}
        if loss_params.get(genome.options.get("strong.loss", "xent")):
            genes["strong.loss_params"] = []
        return {k: v for k, v in genes.items() if k not in self.frozen}

    def _step(self, gene: str, values: list[Any], current: Any) -> Any:
        """A neighbouring value of an ordered gene most of the time, else any other value."""
        others = [v for v in values if v != current] or values
        if current in values and gene in ORDERED and self.rng.random() < 0.7:
            i = values.index(current)
            near = [values[j] for j in (i - 1, i + 1) if 0 <= j < len(values)]
            return self.rng.choice(near)
        return self.rng.choice(others)

    def _loss_params(self, loss: str) -> dict[str, Any]:
        space = available()[2].get(loss, {})
        return {k: self.rng.choice(vs) for k, vs in space.items() if self.rng.random() < 0.5}

    def mutate(self, parent: Genome) -> Genome:
        child = Genome(parent.idea, dict(parent.options), parent.postprocess)
        genes = self._genes(parent)
        names = list(genes)
        for gene in self._pick_genes(names):
            if gene == "idea":
                child.idea = self.pick_idea(exclude=parent.idea)
                child.options = {k: v for k, v in child.options.items() if k.startswith("strong.")}
            elif gene == "postprocess":
                child.postprocess = self._step(gene, list(POSTPROCESS), child.postprocess)
            elif gene == "strong.loss_params":
                child.options["strong.loss_params"] = self._loss_params(child.options.get("strong.loss", "xent"))
            else:
                defaults = _defaults(child.idea)
                current = child.options.get(gene, defaults.get(gene))
                child.options[gene] = self._step(gene, genes[gene], current)
                if gene == "strong.loss":
                    params = self._loss_params(child.options[gene])
                    child.options.pop("strong.loss_params", None)
                    if params:
                        child.options["strong.loss_params"] = params
        _drop_defaults(child)
        return child

    def _pick_genes(self, names: list[str]) -> list[str]:
        k = 2 if self.rng.random() < 0.3 else 1
        chosen: list[str] = []
        while len(chosen) < k:
            gene = self._choice(names, [self._weight(n) for n in names])
            if gene not in chosen:
                chosen.append(gene)
        return chosen

    def crossover(self, a: Genome, b: Genome) -> Genome:
        """Uniform crossover: the idea and its options from `a`; each strong gene and the postprocess from either."""
        child = Genome(a.idea, {k: v for k, v in a.options.items() if not k.startswith("strong.")},
                       self.rng.choice((a.postprocess, b.postprocess)))
        for key in sorted({k for g in (a, b) for k in g.options if k.startswith("strong.") and k != "strong.loss_params"}):
            donor = self.rng.choice((a, b))
            if key in donor.options:
                child.options[key] = donor.options[key]
                if key == "strong.loss" and "strong.loss_params" in donor.options:
                    child.options["strong.loss_params"] = donor.options["strong.loss_params"]
        if "strong.loss" not in child.options:
            child.options.pop("strong.loss_params", None)
        _drop_defaults(child)
        return child

    def random_genome(self) -> Genome:
        return self.mutate(Genome(self.pick_idea()))

    # --- selection --------------------------------------------------------------------------------------------
    def tournament(self, scored: Sequence[Scored], size: int = 3) -> Genome:
        entrants = self.rng.sample(list(scored), k=min(size, len(scored)))
        return max(entrants, key=lambda s: s.fitness).genome

    def children(self, scored: Sequence[Scored], n: int, crossover_rate: float = 0.3,
                 max_tries: int = 200) -> list[Genome]:
        """`n` new, valid, never-seen genomes bred from the scored population (random ones if it is empty)."""
        out: list[Genome] = []
        for _ in range(max_tries):
            if len(out) == n:
                break
            if not scored:
                child = self.random_genome()
            elif len(scored) > 1 and self.rng.random() < crossover_rate:
                child = self.mutate(self.crossover(self.tournament(scored), self.tournament(scored))) \
                    if self.rng.random() < 0.5 else self.crossover(self.tournament(scored), self.tournament(scored))
            else:
                child = self.mutate(self.tournament(scored))
            if self.admit(child):
                out.append(child)
        return out


def _defaults(idea: str) -> dict[str, Any]:
    """The idea's default option values and the default strong fields, as flat keys."""
    return dict(_cached_defaults(idea))


@cache
def _cached_defaults(idea: str) -> tuple[tuple[str, Any], ...]:
    from dataclasses import asdict

    from trainer.ideas import make_config

    config = make_config(idea)
    flat = {k: v for k, v in asdict(config).items() if k not in ("weak", "strong", "dataset", "seed")}
    flat.update({f"strong.{k}": v for k, v in asdict(config.strong).items()})
    return tuple(flat.items())


def _drop_defaults(genome: Genome) -> None:
    """Options equal to their default are removed, so equivalent genomes share one key."""
    defaults = _defaults(genome.idea)
    for key in [k for k, v in genome.options.items() if k in defaults and defaults[k] == v]:
        del genome.options[key]
    if genome.options.get("strong.loss_params") == {}:
        del genome.options["strong.loss_params"]
