"""`orchestrator report`: the dashboard's figures (matplotlib, PNG and SVG) and tables (Markdown and CSV)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from orchestrator.dashboard import _agents, _board, _tables
from orchestrator.dashboard._entropy import EntropyPoint, family_entropy, max_bits
from orchestrator.dashboard._sources import Sources


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")  # files only: never a display
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": 110, "font.size": 9, "svg.fonttype": "none"})
    return plt


def _dt(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC)


def _save(fig, out: Path, stem: str) -> list[Path]:  # type: ignore[no-untyped-def]
    paths = [out / f"{stem}.png", out / f"{stem}.svg"]
    fig.tight_layout()
    for path in paths:
        # Agent names reach the figure as legend text; matplotlib's mathtext is off for them (see _label).
        fig.savefig(path, metadata={"Date": None} if path.suffix == ".svg" else None)
    _pyplot().close(fig)
    return paths


def _label(text: str) -> str:
    """Legend text shown literally (a `$` would otherwise start matplotlib mathtext)."""
    return text.replace("$", r"\$")


def pgr_figure(sources: Sources, datasets: Sequence[str], out: Path) -> list[Path]:
    plt = _pyplot()
    fig, axes = plt.subplots(len(datasets), 1, figsize=(7, 3 * max(1, len(datasets))), squeeze=False)
    for ax, dataset in zip(axes[:, 0], datasets, strict=True):
        series = _board.pgr_over_time(sources, dataset)
        end = max((p.at for points in series.values() for p in points), default=0.0)
        for agent, points in sorted(series.items()):
            ats, pgrs = [p.at for p in points] + [end], [p.pgr for p in points] + [points[-1].pgr]
            ax.step([_dt(t) for t in ats], pgrs, where="post", marker="o", ms=3, markevery=list(range(len(points))),
                    label=_label(agent))
        ax.set_title(f"best public PGR over time: {_label(dataset)}")
        ax.set_ylabel("PGR")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, ncol=3)
    fig.autofmt_xdate()
    return _save(fig, out, "pgr_over_time")


def entropy_figure(points: list[EntropyPoint], out: Path) -> list[Path]:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3))
    if points:
        ax.step([_dt(p.at) for p in points], [p.bits for p in points], where="post", marker="o", ms=3,
                label="entropy of method families")
        ax.axhline(max_bits(), ls=":", color="grey", label="all families even")
        ax.legend(fontsize=7)
    ax.set_ylabel("bits")
    ax.set_title("idea diversity across active agents")
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    return _save(fig, out, "entropy")


def cost_figure(rows: list[dict[str, object]], out: Path) -> list[Path]:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3))
    names = [_label(str(r["agent"])) for r in rows]
    xs = range(len(rows))
    ax.bar([x - 0.2 for x in xs], [float(r["cost_usd"]) for r in rows], width=0.4, label="cost (USD)")  # type: ignore[arg-type]
    twin = ax.twinx()
    twin.bar([x + 0.2 for x in xs], [float(r["job_hours"]) for r in rows], width=0.4, color="tab:orange",  # type: ignore[arg-type]
             label="job hours")
    ax.set_xticks(list(xs), names, rotation=30, ha="right")
    ax.set_ylabel("USD")
    twin.set_ylabel("job hours")
    ax.set_title("cost and compute per agent")
    fig.legend(fontsize=7, loc="upper right")
    return _save(fig, out, "cost")


_PGR_COLUMNS = (("dataset", "dataset"), ("idea", "idea"), ("runs", "runs"), ("agents", "agents"),
                ("submissions", "submissions"), ("PGR (mean ± sem)", "pgr_mean"),
                ("private PGR (mean ± sem)", "private_pgr_mean"), ("flagged", "flagged"))
_BOARD_COLUMNS = (("#", "rank"), ("agent", "agent"), ("idea", "idea"), ("accuracy", "accuracy"), ("PGR", "pgr"),
                  ("private acc", "private_accuracy"), ("private PGR", "private_pgr"), ("best of n", "best_of"),
                  ("seeds", "seeds"), ("flags", "flags"), ("submission", "submission_id"))
_COST_COLUMNS = (("agent", "agent"), ("kind", "kind"), ("state", "state"), ("agent hours", "agent_hours"),
                 ("cost (USD)", "cost_usd"), ("USD per agent-hour", "usd_per_agent_hour"),
                 ("job hours", "job_hours"), ("input tokens", "input_tokens"), ("output tokens", "output_tokens"))


def write_report(sources: Sources, out: Path, datasets: Sequence[str] | None = None) -> list[Path]:
    """Write every figure and table into `out`; answers the files written (report.md first)."""
    out.mkdir(parents=True, exist_ok=True)
    known = _board.datasets(sources)
    chosen = list(datasets) if datasets else known
    unknown = [d for d in chosen if d not in known]
    if unknown:
        raise ValueError(f"no submissions for dataset(s) {', '.join(unknown)}; known: {', '.join(known) or 'none'}")
    subs = [s for d in chosen for s in _board.submissions(sources, d)]
    pgr = _tables.pgr_rows(subs)
    costs = _tables.cost_rows(_agents.agents(sources))
    entropy = family_entropy(sources)
    written = [_tables.write_csv(out / "pgr_table.csv", pgr, [k for k in pgr[0]] if pgr else ["dataset"]),
               _tables.write_csv(out / "cost.csv", costs, [k for _, k in _COST_COLUMNS]),
               _tables.write_csv(out / "entropy.csv", [{"time_utc": _dt(p.at).isoformat(), "bits": p.bits,
                                                        "active_agents": p.active} for p in entropy],
                                 ["time_utc", "bits", "active_agents"])]
    md = [f"# w2s-lab report ({_tables.stamp()})", "",
          ("Scores are the grader's own (public part, Ladder-reported; private once published). A run is an agent's "
          "best submission of an idea per seed; PGR is mean ± standard error over runs."), "",
          "## PGR per idea", "", _tables.markdown(pgr, _PGR_COLUMNS)]
    for dataset in chosen:
        rows = _tables.board_rows(_board.board(sources, dataset))
        written.append(_tables.write_csv(out / f"leaderboard_{dataset}.csv", rows, [k for _, k in _BOARD_COLUMNS]))
        md += [f"## Leaderboard: {_tables.md_cell(dataset)}", "", _tables.markdown(rows, _BOARD_COLUMNS)]
    md += ["## Cost", "", _tables.markdown(costs, _COST_COLUMNS),
           "## Figures", "", "![PGR over time](pgr_over_time.png)", "", "![entropy](entropy.png)", "",
           "![cost](cost.png)", ""]
    if chosen:
        written += pgr_figure(sources, chosen, out)
    written += entropy_figure(entropy, out) + cost_figure(costs, out)
    report = out / "report.md"
    report.write_text("\n".join(md), encoding="utf-8")
    return [report, *written]
