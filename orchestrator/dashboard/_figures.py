"""The dashboard's plots as plotly figures (JSON for the page's bundled plotly.js; `Plotly.react` draws them).

Plotly renders a few HTML-like tags inside labels, so every string an agent chose (agent names, ideas) is
HTML-escaped before it becomes a trace name or hover text.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime

import plotly.graph_objects as go

from orchestrator.dashboard._agents import AgentView, CostPoint
from orchestrator.dashboard._board import Point
from orchestrator.dashboard._entropy import EntropyPoint, max_bits
from orchestrator.dashboard._runs import RunView

_LAYOUT = {"margin": {"l": 50, "r": 20, "t": 40, "b": 40}, "height": 320, "template": "plotly_white",
           "legend": {"orientation": "h", "y": -0.2}}


def _t(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _figure(title: str, traces: list[go.Scatter | go.Bar], **layout: object) -> str:
    fig = go.Figure(data=traces)
    fig.update_layout(title={"text": _e(title), "font": {"size": 14}}, **{**_LAYOUT, **layout})
    return fig.to_json()


def pgr_figure(dataset: str, series: dict[str, list[Point]], until: float | None = None) -> str:
    """Each agent's best-so-far staircase, held flat up to `until` (now, while a launch runs)."""
    end = max([p.at for points in series.values() for p in points] + [until or 0.0])
    traces = []
    for agent, points in sorted(series.items()):
        held = [*points, points[-1].model_copy(update={"at": end})] if points and end > points[-1].at else points
        traces.append(go.Scatter(
            x=[_t(p.at) for p in held], y=[p.pgr for p in held], name=_e(agent), mode="lines+markers",
            line={"shape": "hv"}, marker={"size": [7] * len(points) + [0] * (len(held) - len(points))},
            text=[_e(f"#{p.submission_id} {p.idea or ''}") for p in held],
            hovertemplate="%{y:.3f} %{text}<extra>%{fullData.name}</extra>"))
    return _figure(f"best public PGR over time: {dataset}", traces, yaxis={"title": {"text": "PGR"}})


def entropy_figure(points: list[EntropyPoint]) -> str:
    xs = [_t(p.at) for p in points]
    traces = [go.Scatter(x=xs, y=[p.bits for p in points], name="entropy (bits)", mode="lines+markers",
                         line={"shape": "hv"}, text=[f"{p.active} active agents" for p in points])]
    if points:
        traces.append(go.Scatter(x=[xs[0], xs[-1]], y=[max_bits()] * 2, name="all families even", mode="lines",
                                 line={"dash": "dot"}))
    return _figure("method-family entropy across active agents", traces, yaxis={"title": {"text": "bits"}})


def cost_figure(agents: list[AgentView], series: dict[str, list[CostPoint]]) -> str:
    if series:
        traces: list[go.Scatter | go.Bar] = [
            go.Scatter(x=[_t(p.at) for p in points], y=[p.cost_usd for p in points], name=_e(agent), mode="lines")
            for agent, points in sorted(series.items())]
        return _figure("cumulative model-API cost (USD)", traces, yaxis={"title": {"text": "USD"}})
    names = [_e(a.name) for a in agents]
    hours = go.Bar(x=names, y=[a.job_hours for a in agents], name="job hours")
    if not any(a.cost_usd for a in agents):  # offline agents: compute is the only cost
        return _figure("compute per agent (job hours)", [hours], yaxis={"title": {"text": "hours"}})
    cost = go.Bar(x=names, y=[a.cost_usd for a in agents], name="cost (USD)", offsetgroup=0)
    hours.update(yaxis="y2", offsetgroup=1)
    return _figure("cost and compute per agent", [cost, hours], barmode="group", yaxis={"title": {"text": "USD"}},
                   yaxis2={"title": {"text": "hours"}, "overlaying": "y", "side": "right"})


def loss_figure(runs: list[RunView]) -> str:
    traces = []
    for run in runs:
        curves = [c for c in run.curves if "loss" in c.name] or run.curves[:1]
        traces += [go.Scatter(x=c.steps, y=c.values, name=_e(f"{run.job_id} {c.name}"), mode="lines")
                   for c in curves]
    return _figure("training loss (metrics.jsonl)", traces, xaxis={"title": {"text": "step"}})
