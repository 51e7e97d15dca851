"""The grader benchmarks' dataset: `bench`, binary consistency pairs (one right answer per question) prepared into
the label store of the current W2S_HOME, as `w2s-admin data prepare` would. Shared by grader_bench.py and
grader_attack_bench.py so both measure the same kind of test set."""

from __future__ import annotations

import json
import random
from pathlib import Path


def prepare_pairs(home: Path, test_groups: int, ood_every: int) -> None:
    """`test_groups` pairs in test (10 in each train split); every `ood_every`-th question is in subset `ood_y`, the
    rest in `id_x`. W2S_HOME must already point at `home`."""
    from mcp_servers.grader._service import GraderSettings
    from mcp_servers.grader.datasets import LabelStore, prepare_dataset
    from trainer import paths

    rng = random.Random(0)
    src = home / "src" / "bench"
    src.mkdir(parents=True)
    for split, groups in (("train_label", 10), ("train_unlabel", 10), ("test", test_groups)):
        with (src / f"{split}.jsonl").open("w") as out:
            for g in range(groups):
                good = rng.randrange(2)
                for k in range(2):
                    out.write(json.dumps({"question": f"{split} q{g}", "choice": f"a{k}", "label": k == good,
                                          "consistency_id": f"{split}-{g}",
                                          "subset": "id_x" if g % ood_every else "ood_y"}) + "\n")
    prepare_dataset(src, paths().data_dir, LabelStore(GraderSettings().label_store))
