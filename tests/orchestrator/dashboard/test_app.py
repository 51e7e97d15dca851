"""The dashboard page in a real headless Chromium, over a record written by the real grader, findings, snapshot
and jobs services: leaderboard numbers, search, a finding's page, live update, a screenshot, inert agent text;
and (slow) over a short offline launch of evolve agents in bwrap sandboxes."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from mcp_servers.core import create_sqlite_engine
from mcp_servers.grader._board import leaderboard
from mcp_servers.grader._service import Grader, GraderSettings
from mcp_servers.grader.datasets._build import build_testbed
from orchestrator.dashboard._app import build_app, plotly_js
from orchestrator.dashboard._sources import Sources
from tests.orchestrator.dashboard.browser_helpers import browser, chromium_path, serving
from tests.orchestrator.dashboard.dash_helpers import DEnv
from tests.orchestrator.launch_helpers import base_port, cli, cli_env, count, wait_for
from tests.skips import require_bwrap

EVOLVE_ARGS = "--population 2 --brood 1 --margin 5"


def test_page_in_chromium(denv: DEnv, tmp_path: Path) -> None:
    board = leaderboard(denv.grader, "toy")
    with serving(build_app(Sources.from_env(), poll_s=0.3)) as url, browser() as chrome:
        page = chrome.new_page(viewport={"width": 1400, "height": 1100})
        errors: list[str] = []
        dialogs: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(url + "/")

        # The leaderboard shows exactly what the grader's own leaderboard tool answers, in its order.
        rows = page.locator("#board-toy tr").all()[1:]
        assert len(rows) == len(board.entries)
        for row, entry in zip(rows, board.entries, strict=True):
            assert row.locator("td.acc").inner_text() == f"{entry.accuracy:.3f}"
            assert row.locator("td.pgr").inner_text() == f"{entry.pgr:.3f}"
            assert entry.agent in row.inner_text() and f"best of {entry.submissions}" in row.inner_text()
        page.wait_for_selector("#plots[data-drawn='3'] .js-plotly-plot", timeout=20_000)
        assert page.locator("#plots .js-plotly-plot").count() == 3  # PGR over time, entropy, cost

        # Search finds a finding (full text), and only the matching one.
        page.fill("#search", "confidence loss")
        page.press("#search", "Enter")
        page.wait_for_selector("#results")
        results = page.locator("#results table.findings").inner_text()
        assert "Auxiliary confidence loss beats vanilla" in results and "Seed ensembles" not in results

        # Its page: the cited submission with the grader's score, the snapshot and its diff to the parent.
        page.click("text=Auxiliary confidence loss beats vanilla")
        page.wait_for_selector("#finding")
        cited = page.locator("#submissions").inner_text()
        assert f"#{denv.ids['a_logconf']}" in cited
        best = next(e for e in board.entries if e.idea == "logconf")
        assert f"{best.accuracy:.3f}" in cited and f"{best.pgr:.3f}" in cited
        snaps = page.locator("#snapshots").inner_text()
        assert f"snapshot #{denv.ids['snap']}" in snaps and f"parent #{denv.ids['snap_parent']}" in snaps
        assert "+loss = 'logconf'" in snaps and "-loss = 'xent'" in snaps
        assert "Reproduced on seed 1? <b>bold</b>" in page.locator("#comments").inner_text()
        assert "<script>alert(1)</script>" in page.locator("pre.body").inner_text()
        assert page.locator("#comments pre b").count() == 0 and page.locator("pre.body script").count() == 0 and not dialogs
        assert denv.ids["job"] in page.locator("#runs").inner_text()
        page.wait_for_selector("#plots[data-drawn='1'] .js-plotly-plot", timeout=20_000)  # the loss curve

        # Live update: a new submission and finding appear without a reload.
        page.goto(url + "/")
        page.wait_for_selector("#plots[data-drawn='3']", timeout=20_000)
        denv.submit("bob", 0.9, "self-train", seed=3)
        denv.post("bob", "Self-training closes the gap", "self-train", "self-training", [])
        page.wait_for_selector("#live:not([data-updates='0'])", state="attached", timeout=20_000)
        assert "self-train" in page.locator("#board-toy").inner_text()
        assert "Self-training closes the gap" in page.locator("#feed").inner_text()
        shot = tmp_path / "dashboard.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20_000
        assert not errors, errors


def test_assets_come_from_installed_packages(denv: DEnv) -> None:
    with serving(build_app(Sources.from_env())) as url:
        html = httpx.get(url + "/").text
        js = httpx.get(url + "/static/plotly.min.js")
    assert "<script src=\"/static/plotly.min.js\">" in html and "http" not in html.split("<body>")[0].replace(
        "http-equiv", "")
    assert js.status_code == 200 and js.content == plotly_js().read_bytes()
    assert js.headers["content-type"].startswith("text/javascript")


@pytest.mark.parametrize("path", ["/finding/999", "/snapshot/999", "/static/../_app.py", "/static/nope.js"])
def test_missing_things_answer_404(denv: DEnv, path: str) -> None:
    with serving(build_app(Sources.from_env())) as url:
        assert httpx.get(url + path).status_code == 404


def test_empty_state_renders(w2s_home: Path) -> None:
    """Before any server has run (no database at all) the page still renders, and creates nothing."""
    state = Sources.from_env().state_dir
    with serving(build_app(Sources.from_env())) as url:
        page = httpx.get(url + "/")
        figures = httpx.get(url + "/api/figures").json()
    assert page.status_code == 200 and "No submissions yet." in page.text and "No agents yet." in page.text
    assert set(figures) == {"entropy", "cost"}
    assert not state.exists() or not any(state.iterdir())


def test_unreadable_database_is_named_on_the_page(w2s_home: Path) -> None:
    sources = Sources.from_env()
    sources.state_dir.mkdir(parents=True)
    sources.db("findings").write_bytes(b"garbage" * 200)
    with serving(build_app(sources)) as url:
        page = httpx.get(url + "/")
    assert page.status_code == 200 and "Some records could not be read" in page.text and "findings.db" in page.text


@pytest.mark.slow
@pytest.mark.bwrap
def test_dashboard_over_an_offline_launch(w2s_home: Path) -> None:
    chromium_path()
    require_bwrap()
    build_testbed("sentiment", "tiny", seed=0)
    env = cli_env()
    started = cli("launch", "--n", "1", "--agent", "evolve", "--dataset", "sentiment", "--minutes", "20",
                  "--base-port", str(base_port()), "--agent-args", EVOLVE_ARGS, "--sandbox", "bwrap", env=env,
                  timeout=400)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        wait_for("a graded submission", lambda: count(
            "grader.db", "SELECT COUNT(*) FROM grader_submission WHERE agent = 'evolve1'") >= 1, 1200, 2)
        settings = GraderSettings()
        board = leaderboard(Grader(settings, create_sqlite_engine(settings.db_path("grader"))), "sentiment")
        with serving(build_app(Sources.from_env(), poll_s=0.5)) as url, browser() as chrome:
            page = chrome.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url + "/")
            agents = page.locator("#agents").inner_text()
            assert "evolve1" in agents and "running" in agents
            first = page.locator("#board-sentiment tr").nth(1)
            entry = board.entries[0]
            assert first.locator("td.acc").inner_text() == f"{entry.accuracy:.3f}"
            assert entry.agent in first.inner_text()
            page.wait_for_selector("#plots[data-drawn='3']", timeout=30_000)
    finally:
        stopped = cli("stop", env=env, timeout=180)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
