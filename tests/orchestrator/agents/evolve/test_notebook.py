"""NOTEBOOK.md: the trials best first, the submissions, the log; written atomically, never through a link."""

from __future__ import annotations

from pathlib import Path

from orchestrator.agents.evolve._fitness import Fitness
from orchestrator.agents.evolve._notebook import Notebook, Trial
from orchestrator.agents.evolve._space import Genome


def test_render_ranks_trials_and_lists_submissions(tmp_path: Path) -> None:
    book = Notebook("sentiment", "distillation", 0)
    weak = Trial(Genome("vanilla_w2s"), "screen", "train-1", Fitness(0.7, 0.7, 0.9, 0.5, "train_label"))
    strong = Trial(Genome("probe_w2s", {"mode": "relabel"}), "confirm", "train-2",
                   Fitness(0.8, 0.8, None, 0.6, "train_label"),
                   submission={"submission_id": 4, "overall": {"accuracy": 0.81, "pgr": 0.5, "improved": True}})
    failed = Trial(Genome("ue_zeroshot"), "screen", error="job train-3 failed: boom")
    book.trials += [weak, failed, strong]
    book.note("hello")
    text = book.render()
    assert "Direction: distillation" in text and "3 trials" in text
    assert "| 4 | `probe_w2s(mode=relabel)` | 0.81 | 0.5 | True |" in text
    rows = [line for line in text.splitlines() if line.startswith(("| screen", "| confirm"))]
    assert [r.split("|")[2].strip() for r in rows] == ["`probe_w2s(mode=relabel)`", "`vanilla_w2s()`", "`ue_zeroshot()`"]
    assert "boom" in rows[-1] and text.rstrip().endswith("hello")


def test_write_replaces_a_planted_link_instead_of_following_it(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep me")
    (tmp_path / "NOTEBOOK.md").symlink_to(target)
    Notebook("sentiment", None, 1).write(tmp_path)
    assert target.read_text() == "keep me"
    assert not (tmp_path / "NOTEBOOK.md").is_symlink() and "evolve agent" in (tmp_path / "NOTEBOOK.md").read_text()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".NOTEBOOK")] == []


def test_state_round_trips_for_a_restart_and_refuses_foreign_or_damaged_files(tmp_path: Path) -> None:
    book = Notebook("sentiment", None, 0)
    book.trials += [Trial(Genome("vanilla_w2s", {"strong.lr": 2e-4}, "group_normalize"), "confirm", "train-1",
                          Fitness(0.8, 0.8, 0.9, 0.5, "train_label"), seconds=12.0, test_probs=[0.1, 0.9],
                          submission={"submission_id": 3, "overall": {"improved": True}}),
                    Trial(Genome("ue_zeroshot"), "screen", error="failed")]
    book.write(tmp_path)
    again = Notebook("sentiment", None, 0)
    assert again.load(tmp_path) == 2
    first, second = again.trials
    assert first.genome == book.trials[0].genome and first.fitness == book.trials[0].fitness
    assert first.submission == {"submission_id": 3, "overall": {"improved": True}} and first.test_probs is None
    assert second.fitness is None and second.error == "failed"
    assert Notebook("questions", None, 0).load(tmp_path) == 0  # another dataset's state
    (tmp_path / ".evolve_state.json").write_text("{not json")
    assert Notebook("sentiment", None, 0).load(tmp_path) == 0
