"""Figures are plotly JSON; agent-chosen strings in them are escaped (plotly renders some HTML in labels)."""

from __future__ import annotations

import json

from orchestrator.dashboard._agents import AgentView
from orchestrator.dashboard._board import Point
from orchestrator.dashboard._entropy import EntropyPoint
from orchestrator.dashboard._figures import cost_figure, entropy_figure, loss_figure, pgr_figure
from orchestrator.dashboard._runs import Curve, RunView

EVIL = '<a href="javascript:alert(1)">x</a>'


def test_agent_strings_are_escaped() -> None:
    fig = json.loads(pgr_figure("toy", {EVIL: [Point(at=0, pgr=0.1, submission_id=1, idea=EVIL)]}, until=10))
    trace = fig["data"][0]
    assert trace["name"] == "&lt;a href=&quot;javascript:alert(1)&quot;&gt;x&lt;/a&gt;"
    assert all("<a" not in t for t in trace["text"])
    assert len(trace["x"]) == 2 and trace["y"] == [0.1, 0.1]  # held flat until now


def test_every_figure_builds() -> None:
    assert json.loads(entropy_figure([EntropyPoint(at=0, bits=1.0, active=2, families={"a": 1, "b": 1})]))["data"]
    cost = json.loads(cost_figure([AgentView(name=EVIL, cost_usd=1.0, job_hours=2.0)], {}))
    assert len(cost["data"]) == 2
    assert len(json.loads(cost_figure([AgentView(name="a", job_hours=2.0)], {}))["data"]) == 1
    assert cost["data"][0]["x"] == ["&lt;a href=&quot;javascript:alert(1)&quot;&gt;x&lt;/a&gt;"]
    loss = json.loads(loss_figure([RunView(job_id="train-1", kind="train", state="succeeded",
                                           curves=[Curve(name="loss", steps=[1, 2], values=[1.0, 0.5])])]))
    assert loss["data"][0]["y"] == [1.0, 0.5]
