"""Access: loopback by default (Host checked against DNS rebinding), a token beyond loopback, GET only."""

from __future__ import annotations

import httpx
import pytest

from orchestrator.dashboard._app import build_app
from orchestrator.dashboard._auth import COOKIE, is_loopback
from orchestrator.dashboard._sources import Sources
from tests.orchestrator.dashboard.browser_helpers import serving
from tests.orchestrator.dashboard.dash_helpers import DEnv

TOKEN = "t0k3n-for-the-dashboard-tests-0123456789"


@pytest.mark.parametrize(("host", "loop"), [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                            ("[::1]", True), ("127.0.0.2", True), ("0.0.0.0", False),
                                            ("::", False), ("10.1.2.3", False), ("dashboard.example", False)])
def test_is_loopback(host: str, loop: bool) -> None:
    assert is_loopback(host) is loop


def test_token_required_for_every_path(denv: DEnv) -> None:
    with serving(build_app(Sources.from_env(), token=TOKEN), host="0.0.0.0") as url:
        for path in ("/", "/live", "/api/version", "/api/figures", f"/finding/{denv.ids['f_logconf']}",
                     "/static/plotly.min.js", "/findings?q=loss"):
            refused = httpx.get(url + path)
            assert refused.status_code == 401, path
            assert "Auxiliary" not in refused.text and "token required" in refused.text
        assert httpx.get(url + "/", headers={"Authorization": "Bearer wrong-token-wrong-token"}).status_code == 401
        assert httpx.get(url + "/", cookies={COOKIE: "wrong"}).status_code == 401
        ok = httpx.get(url + "/", headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200 and "Leaderboard: toy" in ok.text


def test_query_token_becomes_a_cookie_and_leaves_the_address(denv: DEnv) -> None:
    with serving(build_app(Sources.from_env(), token=TOKEN), host="0.0.0.0") as url, \
            httpx.Client(base_url=url) as client:
        first = client.get("/findings", params={"q": "loss", "token": TOKEN})
        assert first.status_code == 303 and first.headers["location"] == "/findings?q=loss"
        cookie = first.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        after = client.get(first.headers["location"])
        assert after.status_code == 200 and "Auxiliary confidence loss" in after.text


def test_loopback_refuses_foreign_host_header(denv: DEnv) -> None:
    """Without a token the dashboard answers only requests addressed to loopback (DNS rebinding)."""
    with serving(build_app(Sources.from_env())) as url:
        assert httpx.get(url + "/").status_code == 200
        assert httpx.get(url + "/", headers={"Host": "localhost:8080"}).status_code == 200
        refused = httpx.get(url + "/", headers={"Host": "attacker.example:8080"})
        assert refused.status_code == 403 and "Leaderboard" not in refused.text


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_read_only(denv: DEnv, method: str) -> None:
    with serving(build_app(Sources.from_env())) as url:
        assert httpx.request(method, url + "/").status_code == 405


def test_security_headers(denv: DEnv) -> None:
    with serving(build_app(Sources.from_env())) as url:
        headers = httpx.get(url + "/").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
