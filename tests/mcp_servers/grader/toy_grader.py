"""A real grader over `toy`, a tiny binary dataset (100 test questions with two answers each, one right), for the
tests of what reads grader submissions (the findings server, the dashboard)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from mcp_servers.core import Identity, create_sqlite_engine
from mcp_servers.grader import Calibration, write_calibration
from mcp_servers.grader._service import Grader, GraderSettings
from mcp_servers.grader.datasets import LabelStore, prepare_dataset
from trainer import paths


def pair_rows(groups: int, rng: random.Random, tag: str, subsets: bool = False) -> list[dict[str, Any]]:
    """Two candidate answers per question (one right); with `subsets`, ID and OOD alternating by question."""
    rows = []
    for g in range(groups):
        good = rng.randrange(2)
        for k in range(2):
            row = {"question": f"{tag} q{g}", "choice": f"answer {k}", "label": k == good,
                   "consistency_id": f"{tag}-{g}", "consistency_key": str(k)}
            rows.append(row | ({"subset": "id_synth" if g % 2 else "ood_synth"} if subsets else {}))
    return rows


def build_toy_grader(home: Path) -> tuple[Grader, list[int]]:
    """`toy` prepared into the label store of the current W2S_HOME (`home`) and calibrated; exact scores (no Ladder)
    so that tests can predict them. Returns the grader and the test labels in public file order."""
    rng = random.Random(0)
    labeled = home / "src" / "toy"
    labeled.mkdir(parents=True)
    for split, size in (("train_label", 10), ("train_unlabel", 10), ("test", 100)):
        (labeled / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in pair_rows(size, rng, split)))
    settings = GraderSettings(ladder_step=0.0)
    store = LabelStore(settings.label_store)
    prepare_dataset(labeled, paths().data_dir, store)
    write_calibration(settings.label_store, "toy", Calibration(weak_acc=0.6, strong_acc=0.9, seeds=1, source="t"))
    return Grader(settings, create_sqlite_engine(settings.db_path("grader"))), store.load("toy", "test").labels


def submit_toy(grader: Grader, truth: list[int], agent: str, correct: float, idea: str,
               seed: int | None = None) -> int:
    """A real submission of `agent` with about `correct` of the test rows right; its id."""
    rng = random.Random(hash((agent, correct, idea, seed)) & 0xFFFF)
    preds = [float(t if rng.random() < correct else 1 - t) for t in truth]
    who = Identity(agent=agent, scopes=frozenset({"grader"}))
    return grader.submit(who, "toy", preds, idea=idea, seed=seed).submission_id
