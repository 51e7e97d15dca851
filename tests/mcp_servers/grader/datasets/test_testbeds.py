"""Testbeds: determinism, balance, no shortcuts, and no hidden label anywhere in the public tree."""

import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from mcp_servers.grader.datasets import LabelStore
from mcp_servers.grader.datasets._build import build_testbed
from mcp_servers.grader.datasets.testbeds import get_testbed
from mcp_servers.grader.datasets.testbeds import testbeds as registered_testbeds
from trainer import paths
from trainer.data import HIDDEN_SPLITS, iter_jsonl, load_split

TESTBEDS = ("sentiment", "questions")


@pytest.mark.parametrize("name", TESTBEDS)
def test_same_seed_same_bytes_other_seed_other_bytes(name: str, w2s_home: Path) -> None:
    first = build_testbed(name, "tiny", seed=3).manifest
    again = build_testbed(name, "tiny", seed=3).manifest
    other = build_testbed(name, "tiny", seed=4).manifest
    assert first == again
    assert first["splits"]["test"]["sha256"] != other["splits"]["test"]["sha256"]


@pytest.mark.parametrize("name", TESTBEDS)
def test_every_subset_is_balanced_and_every_group_has_one_true_answer(name: str, w2s_home: Path) -> None:
    manifest = build_testbed(name, "tiny", seed=0).manifest
    for info in manifest["splits"].values():
        assert all(b["positive_rate"] == 0.5 for b in info["balance"].values())
    subsets = set(manifest["splits"]["test"]["balance"]) - {"all"}
    assert any(s.startswith("id_") for s in subsets) and any(s.startswith("ood_") for s in subsets)
    rows = list(iter_jsonl(paths().labeled_dir / name / "test.jsonl"))
    groups: dict[str, list[bool]] = defaultdict(list)
    for row in rows:
        groups[row["consistency_id"]].append(row["label"])
    assert all(sorted(labels) == [False, True] for labels in groups.values())


def _accuracy(predict, rows: list[dict]) -> float:
    return sum(predict(i, r) == r["label"] for i, r in enumerate(rows)) / len(rows)


@pytest.mark.parametrize("name", TESTBEDS)
def test_subset_length_position_or_choice_alone_score_chance(name: str, w2s_home: Path) -> None:
    build_testbed(name, "small", seed=0)
    train = list(iter_jsonl(paths().labeled_dir / name / "train_label.jsonl"))
    test = list(iter_jsonl(paths().labeled_dir / name / "test.jsonl"))

    def majority(key) -> dict:
        counts: dict = defaultdict(Counter)
        for row in train + test:  # even fitted on test itself, these features carry no signal
            counts[key(row)][row["label"]] += 1
        return {k: c.most_common(1)[0][0] for k, c in counts.items()}

    by_subset = majority(lambda r: r["subset"])
    by_choice = majority(lambda r: r["choice"])
    lengths = sorted({len(r["question"]) + len(r["choice"]) for r in train})
    best_cut = max(lengths, key=lambda c: abs(_accuracy(lambda _, r: len(r["question"]) + len(r["choice"]) > c, train) - 0.5))
    rules = {
        "subset": lambda _, r: by_subset[r["subset"]],
        "choice": lambda _, r: by_choice[r["choice"]],
        "length": lambda _, r: len(r["question"]) + len(r["choice"]) > best_cut,
        "position parity": lambda i, r: i % 2 == 0,
        "position half": lambda i, r: i < len(test) // 2,
    }
    scores = {rule: _accuracy(predict, test) for rule, predict in rules.items()}
    assert all(abs(score - 0.5) < 0.07 for score in scores.values()), scores


@pytest.mark.parametrize("name", TESTBEDS)
def test_no_hidden_label_anywhere_in_the_public_tree(name: str, w2s_home: Path) -> None:
    build_testbed(name, "tiny", seed=0)
    public = paths().data_dir
    store = LabelStore(paths().label_store_dir)
    assert not paths().label_store_dir.is_relative_to(public) and not paths().labeled_dir.is_relative_to(public)
    hidden_ids = {split: store.load(name, split).ids for split in HIDDEN_SPLITS}
    for split in HIDDEN_SPLITS:
        public_rows = load_split(name, split).rows
        assert [r.id for r in public_rows] == hidden_ids[split]
        assert all(r.label is None and r.subset is None and r.difficulty is None for r in public_rows)
    for path in public.rglob("*"):
        if not path.is_file() or path.name == "train_label.jsonl":
            continue
        text = path.read_bytes().decode("utf-8")
        assert '"label"' not in text and '"subset"' not in text, path
        if path.suffix == ".jsonl":
            subsets = set(store.load(name, "test").subsets)
            assert not any(subset in text for subset in subsets), path
            for record in iter_jsonl(path):  # a boolean anywhere in a hidden row could only be a label
                assert not any(isinstance(v, bool) for v in record.values()), (path, record)
        else:
            manifest = json.loads(text)
            assert all("balance" not in manifest["splits"][s] for s in HIDDEN_SPLITS)


def test_rebuilding_the_same_rows_touches_nothing(w2s_home: Path) -> None:
    build_testbed("sentiment", "tiny", seed=0)
    public = paths().data_dir / "sentiment" / "test.jsonl"
    before = public.stat().st_mtime_ns
    build_testbed("sentiment", "tiny", seed=0)
    assert public.stat().st_mtime_ns == before
    build_testbed("sentiment", "tiny", seed=1)
    assert public.stat().st_mtime_ns != before


def test_testbeds_are_discovered_and_an_unknown_one_lists_them() -> None:
    assert {"sentiment", "questions"} <= set(registered_testbeds())
    with pytest.raises(KeyError) as caught:
        get_testbed("imdb")
    assert str(caught.value) == "unknown testbed 'imdb'; available: " + ", ".join(sorted(registered_testbeds()))


def test_the_weak_side_is_pinned_at_build_and_a_calibrated_pin_survives_a_rebuild(w2s_home: Path) -> None:
    from mcp_servers.grader.datasets._build import pin_weak, read_manifest
    from trainer.ideas import make_config

    build_testbed("questions", "tiny", seed=0)
    public = paths().data_dir / "questions" / "manifest.json"
    assert json.loads(public.read_text())["weak"] == get_testbed("questions").weak == {"max_rows": 250}
    assert read_manifest("questions")["weak"] == {"max_rows": 250}
    assert make_config("vanilla_w2s", dataset="questions").weak.max_rows == 250  # what agents' runs get
    pin_weak("questions", {"max_rows": 200})  # what a calibration measured
    build_testbed("questions", "tiny", seed=0, force=True)
    assert json.loads(public.read_text())["weak"] == {"max_rows": 200}
    # a dataset built before pins existed takes its testbed's pin at the next (no-op) build
    build_testbed("sentiment", "tiny", seed=0)
    assert read_manifest("sentiment")["weak"] == {}
    old = {k: v for k, v in read_manifest("questions").items() if k != "weak"}
    for where in (paths().label_store_dir, paths().data_dir):
        (where / "questions" / "manifest.json").write_text(json.dumps(old))
    assert build_testbed("questions", "tiny", seed=0).manifest["weak"] == {"max_rows": 250}
