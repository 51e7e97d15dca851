"""Idea diversity: the Shannon entropy of method families across the agents active at each moment.

An agent's family at time t is the method family of its latest finding at or before t (families are the tags of
prompts/method_families.yaml that every finding must name). An agent is active while the orchestrator lists it
as started and not yet ended; without an orchestrator database every agent that has posted counts as active.
"""

from __future__ import annotations

import math
import time
from collections import Counter

from pydantic import BaseModel

from orchestrator.dashboard._agents import AgentWindow, agent_windows
from orchestrator.dashboard._findings import FamilyEvent, family_events
from orchestrator.dashboard._sources import Sources
from prompts import method_families


class EntropyPoint(BaseModel):
    at: float
    bits: float
    active: int
    """Active agents that have a family (posted at least one finding)."""
    families: dict[str, int]


def entropy_bits(counts: Counter[str] | dict[str, int]) -> float:
    total = sum(counts.values())
    if total == 0:
        return 0.0
    return max(0.0, -sum(c / total * math.log2(c / total) for c in counts.values() if c))


def max_bits() -> float:
    """Entropy of agents spread evenly over every family (the ceiling of the plot)."""
    return math.log2(len(method_families()))


def entropy_series(events: list[FamilyEvent], windows: dict[str, AgentWindow] | None,
                   now: float | None = None) -> list[EntropyPoint]:
    """One point per moment anything changed: a finding posted, an agent started or ended."""
    now = time.time() if now is None else now
    moments = {e.at for e in events}
    if windows:
        moments |= {w.started_at for w in windows.values()}
        moments |= {w.ended_at for w in windows.values() if w.ended_at is not None}
    if events:
        moments.add(now)
    series = []
    latest: dict[str, str] = {}
    ordered = sorted(events, key=lambda e: e.at)
    i = 0
    for t in sorted(m for m in moments if m <= now):
        while i < len(ordered) and ordered[i].at <= t:
            latest[ordered[i].agent] = ordered[i].family
            i += 1
        active = [a for a in latest if windows is None or a not in windows or windows[a].active_at(t)]
        counts = Counter(latest[a] for a in active)
        series.append(EntropyPoint(at=t, bits=round(entropy_bits(counts), 6), active=len(active),
                                   families=dict(counts)))
    return series


def family_entropy(sources: Sources, now: float | None = None) -> list[EntropyPoint]:
    return entropy_series(family_events(sources), agent_windows(sources) or None, now)
