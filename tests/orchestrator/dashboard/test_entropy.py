"""Idea diversity: entropy of the latest method family of each active agent."""

from __future__ import annotations

import math

from orchestrator.dashboard._agents import AgentWindow
from orchestrator.dashboard._entropy import entropy_bits, entropy_series, family_entropy, max_bits
from orchestrator.dashboard._findings import FamilyEvent
from tests.orchestrator.dashboard.dash_helpers import DEnv


def test_entropy_bits() -> None:
    assert entropy_bits({}) == 0.0 and entropy_bits({"a": 3}) == 0.0
    assert entropy_bits({"a": 1, "b": 1}) == 1.0
    assert math.isclose(entropy_bits({"a": 1, "b": 1, "c": 1, "d": 1}), 2.0)
    assert math.isclose(max_bits(), math.log2(11))


def test_series_follows_latest_family_of_active_agents() -> None:
    events = [FamilyEvent(at=10, agent="a", family="ensemble"), FamilyEvent(at=20, agent="b", family="curriculum"),
              FamilyEvent(at=30, agent="a", family="curriculum"), FamilyEvent(at=40, agent="c", family="other")]
    windows = {"a": AgentWindow(started_at=0, ended_at=None), "b": AgentWindow(started_at=0, ended_at=35),
               "c": AgentWindow(started_at=0, ended_at=None)}
    points = {p.at: p for p in entropy_series(events, windows, now=50)}
    assert points[10].bits == 0.0 and points[10].active == 1
    assert points[20].bits == 1.0  # ensemble vs curriculum
    assert points[30].bits == 0.0  # both on curriculum now
    assert points[35].active == 1  # b ended
    assert points[40].bits == 1.0 and points[40].families == {"curriculum": 1, "other": 1}
    assert max(points) == 50


def test_without_orchestrator_every_poster_counts() -> None:
    events = [FamilyEvent(at=1, agent="a", family="ensemble"), FamilyEvent(at=2, agent="b", family="other")]
    assert entropy_series(events, None, now=3)[-1].bits == 1.0


def test_family_entropy_from_the_findings_db(denv: DEnv) -> None:
    assert family_entropy(denv.sources)[-1].bits == 1.0
