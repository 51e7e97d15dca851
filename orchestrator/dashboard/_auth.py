"""Who may see the dashboard: loopback by default; a bearer token whenever it is bound beyond loopback.

The page is read-only (GET and HEAD only). On loopback without a token the Host header must name loopback too,
so a web page elsewhere cannot read the dashboard through DNS rebinding. With a token, a request shows it as
`Authorization: Bearer <token>`, as the `w2s_dashboard` cookie, or once as `?token=` (answered by a redirect that
sets the cookie, so the token leaves the address bar and the history).
"""

from __future__ import annotations

import hmac
import ipaddress
from urllib.parse import urlencode

from starlette.datastructures import URL
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp

COOKIE = "w2s_dashboard"
TOKEN_ENV = "W2S_DASHBOARD_TOKEN"
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
                               "form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def is_loopback(host: str) -> bool:
    """Whether binding `host` keeps the dashboard on this machine."""
    name = host.strip().strip("[]").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _host_name(header: str) -> str:
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class AccessMiddleware(BaseHTTPMiddleware):
    def __init__(self, app: ASGIApp, token: str | None) -> None:
        super().__init__(app)
        self.token = token

    def _presented(self, request: Request) -> str | None:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return request.cookies.get(COOKIE) or request.query_params.get("token")

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await self._check(request, call_next)
        for key, value in _HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    async def _check(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.method not in ("GET", "HEAD"):
            return PlainTextResponse("the dashboard is read-only: GET only", status_code=405)
        if self.token is None:
            if not is_loopback(_host_name(request.headers.get("host", ""))):
                return PlainTextResponse("this dashboard answers on loopback only; open it as http://127.0.0.1:PORT/",
                                         status_code=403)
            return await call_next(request)
        presented = self._presented(request)
        if presented is None or not hmac.compare_digest(presented.encode(), self.token.encode()):
            return PlainTextResponse("token required: open the address with ?token=<token> once, or send "
                                     "'Authorization: Bearer <token>' (the token: the dashboard's --token-file, "
                                     "W2S_DASHBOARD_TOKEN, or the dashboard.token file it named)", status_code=401)
        if "token" in request.query_params:
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            target = URL(path=request.url.path, query=urlencode(rest))
            redirect = RedirectResponse(str(target), status_code=303)
            redirect.set_cookie(COOKIE, self.token, httponly=True, samesite="strict", path="/")
            return redirect
        return await call_next(request)
