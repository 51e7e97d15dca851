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
