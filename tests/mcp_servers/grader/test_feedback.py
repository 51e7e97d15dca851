from __future__ import annotations

import pytest

from mcp_servers.grader._feedback import Best, Feedback, floor_from_top, part_step
from mcp_servers.grader._scoring import Scores, SliceScore


def _scores(overall: float, ood: float, n: int = 350, n_ood: int = 120) -> Scores:
    return Scores(overall=SliceScore(n=n, accuracy=overall, pgr=None),
                  id=SliceScore(n=n - n_ood, accuracy=overall, pgr=None),
                  ood=SliceScore(n=n_ood, accuracy=ood, pgr=None), kind="hard")


def _no_ref(part: str) -> tuple[float, float] | None:
    return (0.6, 0.9) if part == "overall" else None


def test_part_step_is_as_coarse_in_rows_as_the_overall_step() -> None:
    assert part_step(0.01, 350, 120, 3) == pytest.approx(0.03)  # 3.5 rows of 120, rounded up to 0.001
    assert part_step(0.01, 350, 350, 3) == pytest.approx(0.01)
    assert part_step(0.01, 350, 1, 3) == 1.0
    assert floor_from_top(1.0, 0.03) == 1.0 and floor_from_top(0.96, 0.03) == pytest.approx(0.94)


def test_parts_change_only_with_the_overall_best() -> None:
    fb = Feedback(step=0.01, decimals=3)
    first, improved = fb.answer(_scores(0.70, 0.60), None, _no_ref)
    assert improved and first["overall"].accuracy == 0.70 and first["overall"].pgr == pytest.approx(0.333)
    best = Best(1, 0.70, {"id": first["id"].accuracy, "ood": first["ood"].accuracy})
    # OOD rises a lot, overall not by a step: nothing is reported, the parts repeat the best's
    answer, improved = fb.answer(_scores(0.705, 0.70), best, _no_ref)
    assert not improved and answer["ood"].accuracy == best.parts["ood"] and not answer["ood"].improved
    answer, improved = fb.answer(_scores(0.72, 0.70), best, _no_ref)
    assert improved and answer["overall"].accuracy == 0.72 and answer["ood"].improved
    assert answer["ood"].accuracy <= 0.70 and (1 - answer["ood"].accuracy) / 0.03 == pytest.approx(
        round((1 - answer["ood"].accuracy) / 0.03))


def test_withheld_submission_learns_nothing_and_ladder_off_is_exact() -> None:
    fb = Feedback(step=0.01, decimals=3)
    best = Best(1, 0.70, {"id": 0.7, "ood": 0.6})
    answer, improved = fb.answer(_scores(0.90, 0.90), best, _no_ref, withhold=True)
    assert not improved and answer["overall"].accuracy == 0.70
    exact, improved = Feedback(step=0.0, decimals=3).answer(_scores(0.7123, 0.6), best, _no_ref)
    assert improved and exact["overall"].accuracy == 0.712


def test_noise_moves_the_threshold() -> None:
    fb = Feedback(step=0.01, decimals=3, noise=0.01)
    best = Best(1, 0.70, {})
    assert fb.answer(_scores(0.715, 0.6), best, _no_ref, draw=lambda: 1.0)[1] is False  # threshold 0.72
    assert fb.answer(_scores(0.715, 0.6), best, _no_ref, draw=lambda: -0.5)[1] is True  # threshold 0.705
