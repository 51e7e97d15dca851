"""Helpers of the findings tests: a tmp W2S_HOME with a tiny grader dataset, real grader submissions, tokens."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp_servers.core import Identity, TokenStore, create_sqlite_engine
from mcp_servers.findings import FindingsSettings
from mcp_servers.grader import Calibration, write_calibration
from mcp_servers.grader._service import Grader, GraderSettings
from mcp_servers.grader.datasets import LabelStore, prepare_dataset
from tests.mcp_servers.server_helpers import free_port, running  # noqa: F401  (re-exported for the tests)
from trainer import paths

AGENTS = ("alice", "bob", "carol")


@dataclass
class FEnv:
    home: Path
    settings: FindingsSettings
    tokens: dict[str, str]
    grader: Grader
    truth: list[int]

    def submit(self, agent: str, correct: float, idea: str = "vanilla") -> int:
        """A real grader submission of `agent` with about `correct` of the test rows right; its id."""
        rng = random.Random(hash((agent, correct, idea)) & 0xFFFF)
        preds = [float(t if rng.random() < correct else 1 - t) for t in self.truth]
        who = Identity(agent=agent, scopes=frozenset({"grader"}))
        return self.grader.submit(who, "toy", preds, idea=idea).submission_id


def _rows(groups: int, rng: random.Random, tag: str) -> list[dict[str, Any]]:
    rows = []
    for g in range(groups):
        good = rng.randrange(2)
        for k in range(2):
            rows.append({"question": f"{tag} q{g}", "choice": f"answer {k}", "label": k == good,
                         "consistency_id": f"{tag}-{g}", "consistency_key": str(k)})
    return rows


def build_fenv(home: Path) -> FEnv:
    rng = random.Random(0)
    labeled = home / "src" / "toy"
    labeled.mkdir(parents=True)
    for split, size in (("train_label", 10), ("train_unlabel", 10), ("test", 100)):
        (labeled / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _rows(size, rng, split)))
    gsettings = GraderSettings(ladder_step=0.0)
    store = LabelStore(gsettings.label_store)
    prepare_dataset(labeled, paths().data_dir, store)
    write_calibration(gsettings.label_store, "toy", Calibration(weak_acc=0.6, strong_acc=0.9, seeds=1, source="t"))
    grader = Grader(gsettings, create_sqlite_engine(gsettings.db_path("grader")))
    tokens = TokenStore(gsettings.tokens_db)
    minted = {a: tokens.mint(a, ["grader", "findings", "snapshot"]) for a in AGENTS}
    minted["grader-only"] = tokens.mint("dave", ["grader"])
    return FEnv(home, FindingsSettings(), minted, grader, store.load("toy", "test").labels)
