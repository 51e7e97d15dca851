from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from mcp_servers.core import TokenStore, create_sqlite_engine
from mcp_servers.grader._service import Grader, GraderError, GraderSettings


def _grader(env: Any, **kw: Any) -> tuple[Grader, Any]:
    grader = Grader(GraderSettings(**kw), create_sqlite_engine(env.settings.db_path("grader")))
    return grader, TokenStore(env.settings.tokens_db).verify(env.tokens["alice"])


def test_budget_per_agent_and_dataset(env: Any) -> None:
    grader, who = _grader(env, max_submissions=2)
    assert grader.submit(who, "pref", [0.0] * 120).submissions_left == 1
    assert grader.submit(who, "pref", [1.0] * 120).submissions_left == 0
    with pytest.raises(GraderError, match="budget spent"):
        grader.submit(who, "pref", [0.5] * 120)
    grader.submit(who, "toy", [0.0] * 1000)  # another dataset has its own budget


def test_rate_limit(env: Any) -> None:
    grader, who = _grader(env, rate_limit_per_minute=1)
    grader.submit(who, "pref", [0.0] * 120)
    with pytest.raises(GraderError, match="rate limit"):
        grader.submit(who, "pref", [1.0] * 120)


def test_ladder_repeats_best_and_ladder_off(env: Any) -> None:
    grader, who = _grader(env)
    truth = env.truth["toy"]
    best = grader.submit(who, "toy", [float(t) for t in truth])
    worse = grader.submit(who, "toy", [1.0 - t for t in truth])
    assert worse.overall.accuracy == best.overall.accuracy == 1.0 and not worse.overall.improved
    exact, _ = _grader(env, ladder_step=0)
    assert exact.submit(who, "pref", [0.0] * 120).overall.improved


def test_submissions_are_append_only(env: Any) -> None:
    grader, who = _grader(env)
    grader.submit(who, "pref", [0.0] * 120)
    with grader.engine.begin() as conn:
        for sql in ("UPDATE grader_submission SET reported_accuracy = 1", "DELETE FROM grader_submission"):
            with pytest.raises(IntegrityError, match="append-only"):
                conn.execute(text(sql))


def test_train_unlabel_is_never_scoreable(env: Any) -> None:
    grader, who = _grader(env)
    with pytest.raises(GraderError, match="unknown dataset"):
        grader.submit(who, "pref/train_unlabel", [0.0] * 40)
    with pytest.raises(GraderError, match="expected 120"):
        grader.submit(who, "pref", [0.0] * 40)  # a train_unlabel-sized vector does not fit test


def test_default_budget_and_rates(env: Any) -> None:
    """Defaults: 10 a minute and 30 an hour per agent, 100 per agent and dataset; refusals store nothing."""
    defaults = GraderSettings()
    assert (defaults.max_submissions, defaults.rate_limit_per_minute, defaults.rate_limit_per_hour) == (100, 10, 30)
    grader, who = _grader(env)
    for k in range(10):
        grader.submit(who, "pref", [k % 2] * 120)
    with pytest.raises(GraderError, match="rate limit: 10 submissions per minute"):
        grader.submit(who, "toy", [0.0] * 1000)  # the rate is per agent, across datasets
    hourly, _ = _grader(env, rate_limit_per_minute=0)
    for _ in range(20):
        hourly.submit(who, "toy", [1.0] * 1000)
    with pytest.raises(GraderError, match="30 submissions per hour"):
        hourly.submit(who, "toy", [1.0] * 1000)
    budget, _ = _grader(env, rate_limit_per_minute=0, rate_limit_per_hour=0)
    for _ in range(100 - 30):
        last = budget.submit(who, "pref", [0.0] * 120)
    assert last.submissions_used == 80 and last.submissions_left == 20
    for _ in range(20):
        budget.submit(who, "pref", [0.0] * 120)
    with pytest.raises(GraderError, match="budget spent: 100 of 100 on pref"):
        budget.submit(who, "pref", [0.0] * 120)
    bob = TokenStore(env.settings.tokens_db).verify(env.tokens["bob"])
    budget.submit(bob, "pref", [0.0] * 120)  # every agent has its own budget
    with budget.engine.begin() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM grader_submission WHERE agent = 'alice'")).scalar() == 120


def test_integers_bounded(env: Any) -> None:
    grader, who = _grader(env)
    with pytest.raises(GraderError, match="seed 9223372036854775808 is out of range"):
        grader.submit(who, "pref", [0.0] * 120, seed=2**63)
    with pytest.raises(GraderError, match="out of range"):
        grader.submit(who, "pref", [0.0] * 120, seed=-1)
    from mcp_servers.grader._board import get_submission

    with pytest.raises(GraderError, match="submission id 9223372036854775808 is out of range"):
        get_submission(grader, who, 2**63)


def _count(grader: Grader, table: str) -> int:
    with grader.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_idempotency_key_replays_the_first_answer_and_stores_nothing(env: Any) -> None:
    grader, who = _grader(env)
    first = grader.submit(who, "pref", [0.0] * 120, idea="v", seed=3, idempotency_key="k-1")
    again = grader.submit(who, "pref", [0.0] * 120, idea="v", seed=3, idempotency_key="k-1")
    assert again.replayed and not first.replayed
    assert again.model_dump(exclude={"replayed"}) == first.model_dump(exclude={"replayed"})
    assert _count(grader, "grader_submission") == 1 == _count(grader, "grader_idempotency")
    other = grader.submit(who, "pref", [0.0] * 120, idea="v", seed=3, idempotency_key="k-2")  # a new key: new one
    assert other.submission_id != first.submission_id and other.submissions_used == 2
    bob = TokenStore(env.settings.tokens_db).verify(env.tokens["bob"])
    assert grader.submit(bob, "pref", [0.0] * 120, idea="v", seed=3, idempotency_key="k-1").agent == "bob"
    assert _count(grader, "grader_submission") == 3  # keys belong to one agent


def test_same_key_other_request_is_refused(env: Any) -> None:
    grader, who = _grader(env)
    first = grader.submit(who, "pref", [0.0] * 120, note="a", idempotency_key="k")
    for change in ({"predictions": [1.0] * 120}, {"note": "b"}, {"seed": 1}, {"idea": "x"}):
        args: dict[str, Any] = {"predictions": [0.0] * 120, "note": "a"} | change
        with pytest.raises(GraderError, match=f"used for another submission \\({first.submission_id}\\)"):
            grader.submit(who, "pref", idempotency_key="k", **args)
    with pytest.raises(GraderError, match="idempotency_key must be"):
        grader.submit(who, "pref", [0.0] * 120, idempotency_key="no spaces; or quotes'")
    assert _count(grader, "grader_submission") == 1 == _count(grader, "grader_idempotency")


def test_a_replay_costs_no_budget_and_a_new_key_does(env: Any) -> None:
    grader, who = _grader(env, max_submissions=1, rate_limit_per_minute=1)
    first = grader.submit(who, "pref", [0.0] * 120, idempotency_key="k-1")
    assert first.submissions_left == 0
    assert grader.submit(who, "pref", [0.0] * 120, idempotency_key="k-1").submission_id == first.submission_id
    with pytest.raises(GraderError, match="budget spent"):
        grader.submit(who, "pref", [0.0] * 120, idempotency_key="k-2")
    with grader.engine.begin() as conn, pytest.raises(IntegrityError, match="append-only"):
        conn.execute(text("DELETE FROM grader_idempotency"))


def test_a_retry_after_the_run_closed_still_gets_its_answer(env: Any) -> None:
    from mcp_servers.grader._board import publish

    grader, who = _grader(env)
    first = grader.submit(who, "pref", [0.0] * 120, idempotency_key="late-retry")
    publish(grader, "pref")
    assert grader.submit(who, "pref", [0.0] * 120, idempotency_key="late-retry").submission_id == first.submission_id
    with pytest.raises(GraderError, match="closed"):
        grader.submit(who, "pref", [0.0] * 120, idempotency_key="new-key")


def test_ids_in_file_order_are_scored_and_a_reordered_vector_is_refused(env: Any) -> None:
    grader, who = _grader(env)
    ids = grader.test_labels("pref")[0].ids
    assert grader.submit(who, "pref", [1.0] * 120, ids=list(ids)).submission_id >= 1
    swapped = [ids[1], ids[0], *ids[2:]]
    with pytest.raises(GraderError, match=r"row 0: id .* where the test file has"):
        grader.submit(who, "pref", [0.0, 1.0] + [1.0] * 118, ids=swapped)
    with pytest.raises(GraderError, match="119 ids for 120 predictions"):
        grader.submit(who, "pref", [1.0] * 120, ids=list(ids[:119]))
    assert grader.submit(who, "pref", [0.0] * 120).submissions_used == 2  # the refusals stored nothing


def test_an_exact_half_scores_as_one(env: Any) -> None:
    grader, who = _grader(env)
    ones = grader.submit(who, "pref", [1.0] * 120).overall
    halves = grader.submit(who, "pref", [0.5] * 120).overall
    assert ones is not None and halves is not None and halves.accuracy == ones.accuracy
