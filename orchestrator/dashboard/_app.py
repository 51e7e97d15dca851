"""The dashboard's web app (starlette): server-rendered pages (jinja2, autoescaped), plots drawn by the plotly.js
that ships inside the installed plotly package, and a version endpoint the page polls for live updates."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path

import jinja2
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from orchestrator.dashboard import _agents, _board, _figures, _findings
from orchestrator.dashboard._auth import AccessMiddleware
from orchestrator.dashboard._entropy import family_entropy, max_bits
from orchestrator.dashboard._runs import finding_runs
from orchestrator.dashboard._snapshots import snapshot_diff
from orchestrator.dashboard._sources import Sources, rows

_HERE = Path(str(files(__package__)))
_STATIC = {"app.js": "text/javascript", "style.css": "text/css"}


def _ts(at: float | None) -> str:
    return "-" if at is None else datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _dur(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes = int(seconds // 60)
    return f"{minutes // 60}h {minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m {int(seconds % 60):02d}s"


def templates() -> Jinja2Templates:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(_HERE / "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    env.filters.update(ts=_ts, num=_num, dur=_dur)
    return Jinja2Templates(env=env)


def plotly_js() -> Path:
    """plotly.min.js as the installed plotly package ships it (no CDN: offline machines must work)."""
    return Path(str(files("plotly"))) / "package_data" / "plotly.min.js"


def version(sources: Sources) -> str:
    """A stamp that changes whenever anything the page shows changes."""
    grader = _sources_stamp(sources, "grader", "grader_submission",
                            "SELECT MAX(id), (SELECT COUNT(*) FROM grader_publication) FROM grader_submission")
    snapshot = _sources_stamp(sources, "snapshot", "snapshot_snapshot", "SELECT MAX(id) FROM snapshot_snapshot")
    return f"{grader}|{_findings.change_stamp(sources)}|{snapshot}|{_agents.change_stamp(sources)}"


def _sources_stamp(sources: Sources, db: str, table: str, sql: str) -> str:
    found = rows(sources, db, table, sql)
    return repr(tuple(found[0])) if found else "-"


class Dashboard:
    """Routes over one set of sources; every handler only reads."""

    def __init__(self, sources: Sources, poll_s: float = 2.0) -> None:
        self.sources, self.poll_s = sources, poll_s
        self.templates = templates()

    def _live(self) -> dict:
        s = self.sources
        names = _board.datasets(s)
        return {"boards": [_board.board(s, d) for d in names], "agents": _agents.agents(s), "compute": _agents.compute(s),
                "launches": _agents.launches(s)[:3], "feed": _findings.feed(s, limit=15), "now": time.time(),
                "stamp": version(s), "max_bits": max_bits(), "errors": dict(s.errors)}

    async def index(self, request: Request) -> Response:
        return self.templates.TemplateResponse(request, "index.html", {**self._live(), "poll_ms": int(self.poll_s * 1000)})

    async def live(self, request: Request) -> Response:
        return self.templates.TemplateResponse(request, "_live.html", self._live())

    async def api_version(self, request: Request) -> Response:
        return JSONResponse({"stamp": version(self.sources), "now": time.time()})

    async def api_figures(self, request: Request) -> Response:
        s = self.sources
        now = time.time()
        figs = {f"pgr-{d}": _figures.pgr_figure(d, _board.pgr_over_time(s, d), now) for d in _board.datasets(s)}
        figs["entropy"] = _figures.entropy_figure(family_entropy(s))
        figs["cost"] = _figures.cost_figure(_agents.agents(s), _agents.cost_over_time(s))
        return _raw_json(figs)

    async def findings(self, request: Request) -> Response:
        query = request.query_params.get("q", "")[:200]
        return self.templates.TemplateResponse(request, "findings.html", {
            "query": query, "items": _findings.feed(self.sources, query, limit=100)})

    async def finding(self, request: Request) -> Response:
        detail = _findings.finding(self.sources, request.path_params["finding_id"])
        if detail is None:
            return PlainTextResponse("no such finding", status_code=404)
        runs = finding_runs(self.sources, detail)
        diffs = [snapshot_diff(self.sources, snap.id) for snap in detail.snapshots]
        return self.templates.TemplateResponse(request, "finding.html", {
            "f": detail, "runs": runs, "diffs": [d for d in diffs if d is not None],
            "has_curves": any(r.curves for r in runs)})

    async def finding_figures(self, request: Request) -> Response:
        detail = _findings.finding(self.sources, request.path_params["finding_id"])
        if detail is None:
            return PlainTextResponse("no such finding", status_code=404)
        return _raw_json({"loss": _figures.loss_figure(finding_runs(self.sources, detail, tracking=False))})

    async def snapshot(self, request: Request) -> Response:
        diff = snapshot_diff(self.sources, request.path_params["snapshot_id"])
        if diff is None:
            return PlainTextResponse("no such snapshot", status_code=404)
        return self.templates.TemplateResponse(request, "snapshot.html", {"d": diff})

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name == "plotly.min.js":
            return FileResponse(plotly_js(), media_type="text/javascript")
        if name not in _STATIC:
            return PlainTextResponse("not found", status_code=404)
        return FileResponse(_HERE / "static" / name, media_type=_STATIC[name])

    async def health(self, request: Request) -> Response:
        return PlainTextResponse("ok")


def _raw_json(figures: dict[str, str]) -> Response:
    # The figures are already JSON (plotly's encoder handles numpy and dates); join them without re-parsing.
    body = "{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in figures.items()) + "}"
    return Response(body, media_type="application/json")


def build_app(sources: Sources | None = None, token: str | None = None, poll_s: float = 2.0) -> Starlette:
    """The dashboard app; `token` None means loopback-only (the caller binds loopback), else every request must
    show the token."""
    dash = Dashboard(sources or Sources.from_env(), poll_s)
    routes = [
        Route("/", dash.index), Route("/live", dash.live), Route("/api/version", dash.api_version),
        Route("/api/figures", dash.api_figures), Route("/findings", dash.findings),
        Route("/finding/{finding_id:int}", dash.finding),
        Route("/finding/{finding_id:int}/figures", dash.finding_figures),
        Route("/snapshot/{snapshot_id:int}", dash.snapshot), Route("/static/{name}", dash.static),
        Route("/healthz", dash.health),
    ]
    return Starlette(routes=routes, middleware=[Middleware(AccessMiddleware, token=token)])
