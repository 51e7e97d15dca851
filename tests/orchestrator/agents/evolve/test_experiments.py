from __future__ import annotations

from pathlib import Path

from tests.orchestrator.agents.evolve.evolve_helpers import offline_agent, trial


def test_postprocess_variants_are_rescored_from_a_finished_run(tmp_path: Path) -> None:
    agent = offline_agent(tmp_path)
    agent.label_targets, agent.label_groups = [1, 0, 0, 1], ["g1", "g1", "g2", "g2"]
    agent.test_groups = ["t1", "t1"]
    done = trial(0.5, 2)
    done.label_probs = [0.6, 0.55, 0.4, 0.45]  # 50 % right at 0.5; the group fix makes it 100 %
    variants = agent.postprocess_variants(done)
    by = {v.genome.postprocess: v for v in variants}
    assert set(by) == {"group_normalize", "consistency_fix"} and all(v.origin == "postprocess" for v in variants)
    assert by["consistency_fix"].fitness.label_accuracy == 1.0  # type: ignore[union-attr]
    assert by["consistency_fix"].test_probs == done.test_probs and by["consistency_fix"].job_id == done.job_id
    assert not agent.evolver.admit(by["consistency_fix"].genome)  # never screened again
    assert agent.postprocess_variants(trial(0.5, 2)) == []  # no train_label predictions: nothing to re-score
