"""The reference's exfiltration attack: flip one prediction per submission and watch the score move.

Without defence (exact scores) every public label leaks, one per submission. With rounding + the Ladder the
reported score moves only when a submission beats the agent's best by the Ladder step, which a one-row change
never does, so (almost) nothing leaks; and every probe is flagged as a near-duplicate.
"""

from __future__ import annotations

import random
from types import SimpleNamespace
from typing import Any

import pytest

from mcp_servers.core import create_sqlite_engine
from mcp_servers.grader import score
from mcp_servers.grader._service import Grader, GraderSettings

PROBES = 1000


class ExactScores:
    """The reference's grader: exact accuracy of every submission, no record (the pure library `score`)."""

    def __init__(self, grader: Grader) -> None:
        self.labels, self.mask = grader.test_labels("toy")

    def submit(self, who: object, dataset: str, predictions: list[float], idea: str) -> Any:
        exact = score(predictions, self.labels, None, self.mask)
        return SimpleNamespace(overall=exact.overall, flags=[])


def flip_one_attack(grader: Any, who: Any, truth: list[int]) -> tuple[int, int, int]:
    """Returns (labels inferred correctly, inferred wrongly, flagged submissions) over PROBES submissions.

    The attacker flips row i of its current best vector; a higher score means the flipped value is right, a
    lower one that the old value was; it keeps improvements and always compares with the last score it saw.
    """
    rng = random.Random(1)
    base = [float(t if rng.random() < 0.7 else 1 - t) for t in truth]  # a 70%-accurate starting point
    last = grader.submit(who, "toy", base, idea="probe").overall.accuracy
    right = wrong = flagged = 0
    for i in range(PROBES):
        probe = list(base)
        probe[i] = 1.0 - probe[i]
        result = grader.submit(who, "toy", probe, idea="probe")
        flagged += bool(result.flags)
        seen = result.overall.accuracy
        if seen == last:
            continue  # no information about row i
        guess = int(probe[i]) if seen > last else int(base[i])
        right += guess == truth[i]
        wrong += guess != truth[i]
        if seen > last:  # greedy: keep the better vector and compare with its score from now on
            base, last = probe, seen
    return right, wrong, flagged


@pytest.mark.timeout(120)
def test_flip_one_attack_leaks_almost_nothing(env: Any, capsys: pytest.CaptureFixture[str]) -> None:
    engine = create_sqlite_engine(env.settings.db_path("grader"))
    # the default budget and rate would refuse most of these probes; lifted here to measure the leak per 1,000
    defended = Grader(GraderSettings(max_submissions=0, rate_limit_per_minute=0, rate_limit_per_hour=0), engine)
    undefended = ExactScores(defended)
    from mcp_servers.core import TokenStore

    tokens = TokenStore(env.settings.tokens_db)
    truth = env.truth["toy"]
    _, mask = defended.test_labels("toy")
    leak_raw = flip_one_attack(undefended, tokens.verify(env.tokens["bob"]), truth)
    leak_def = flip_one_attack(defended, tokens.verify(env.tokens["alice"]), truth)
    public_rows = int(mask[:PROBES].sum())
    with capsys.disabled():
        print(f"\nflip-one attack, {PROBES} submissions, {public_rows} public rows among the probed: "
              f"exact scores leak {leak_raw[0]} labels ({leak_raw[1]} wrong); "
              f"rounding+Ladder leak {leak_def[0]} ({leak_def[1]} wrong), {leak_def[2]} probes flagged")
    assert leak_raw[0] == public_rows and leak_raw[1] == 0  # the undefended grader gives every public label away
    assert leak_def[0] + leak_def[1] <= 3  # the Ladder lets out at most a few labels per 1,000 probes
    assert leak_def[2] == PROBES  # every probe is flagged as a near-duplicate
