"""`ServerApp[S]`: identity from the bearer or the local token, the health route, the body and scope middleware;
every server's `build_server` answers one typed app whose `.service` is that server's service; package exports are
the real functions (signatures kept); nothing outside the jobs package imports its private modules."""

from __future__ import annotations

import ast
import importlib
import inspect
import typing
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport
from fastmcp.exceptions import ToolError
from pydantic import BaseModel

from mcp_servers.core import ServerApp, TokenStore, tool_error
from mcp_servers.findings import FindingsService, FindingsSettings
from mcp_servers.grader import Grader, GraderSettings
from mcp_servers.jobs import ComputeService, ComputeSettings
from mcp_servers.snapshot import SnapshotService, SnapshotSettings
from tests.mcp_servers.server_helpers import running

ROOT = Path(__file__).resolve().parents[3]
SERVICES: dict[str, type] = {"grader": Grader, "findings": FindingsService, "snapshot": SnapshotService,
                             "train": ComputeService, "predict": ComputeService}
SETTINGS: dict[str, Callable[[], Any]] = {
    "grader": GraderSettings, "findings": FindingsSettings, "snapshot": SnapshotSettings,
    "train": lambda: ComputeSettings(slots=1), "predict": lambda: ComputeSettings(slots=1)}
PACKAGES = ("core", "findings", "grader", "jobs", "predict", "snapshot", "train")


class WhoAmI(BaseModel):
    agent: str
    admin: bool


def demo_app(local_token: str | None = None) -> ServerApp[None]:
    app = ServerApp("grader", local_token=local_token)

    @app.mcp.tool(annotations={"readOnlyHint": True})
    def whoami() -> WhoAmI:
        who = app.identity()
        return WhoAmI(agent=who.agent, admin=who.is_admin)

    @app.mcp.tool
    def admin_only() -> str:
        return app.require_admin().agent

    @app.mcp.tool
    def fails() -> str:
        raise tool_error("bad thing", "send a good thing")

    return app


async def test_in_memory_identity_from_local_token(state: Path) -> None:
    token = TokenStore(state / "tokens.db").mint("alice", ["grader"])
    async with Client(demo_app(token).mcp) as client:
        assert (await client.call_tool("whoami", {})).structured_content == {"agent": "alice", "admin": False}
        with pytest.raises(ToolError, match="admin"):
            await client.call_tool("admin_only", {})
        with pytest.raises(ToolError, match="bad thing. send a good thing."):
            await client.call_tool("fails", {})


async def test_http_health_401_and_identity(state: Path) -> None:
    tokens = TokenStore(state / "tokens.db")
    alice, other = tokens.mint("alice", ["grader"]), tokens.mint("bob", ["findings"])
    async with serving(demo_app()) as url:
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{url}/health")).status_code == 200
            revoked = tokens.mint("carol", ["grader"])
            tokens.revoke(agent="carol")
            for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Bearer {revoked}"}):
                assert (await http.post(f"{url}/mcp", json={}, headers=headers)).status_code == 401
            # An unknown or revoked token is told to ask the operator, not (as fastmcp says) to re-register by OAuth.
            unknown = await http.post(f"{url}/mcp", json={}, headers={"Authorization": f"Bearer {revoked}"})
            assert "ask the operator for a token of the grader server" in unknown.json()["error_description"]
            assert unknown.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
            # A live token of another server: 403 that names the scope, not a 401 that sends clients to OAuth.
            wrong_scope = await http.post(f"{url}/mcp", json={}, headers={"Authorization": f"Bearer {other}"})
            assert wrong_scope.status_code == 403
            assert "lacks the grader scope" in wrong_scope.json()["error_description"]
            assert wrong_scope.json()["error"] == "insufficient_scope" and wrong_scope.json()["scope"] == "grader"
            # No challenge header: the TypeScript SDK answers one with an OAuth upscoping flow (tests/node/sweep.mjs).
            assert "www-authenticate" not in wrong_scope.headers
        transport = StreamableHttpTransport(f"{url}/mcp", headers={"Authorization": f"Bearer {alice}"})
        async with Client(transport) as client:
            assert (await client.call_tool("whoami", {})).structured_content["agent"] == "alice"


async def test_one_body_limit_over_http(state: Path) -> None:
    """Bodies under W2S_MAX_REQUEST_BYTES reach the tool (the MCP SDK's own 4 MiB limit no longer applies first);
    bodies over it get 413 with a message that names the limit."""
    token = TokenStore(state / "tokens.db").mint("alice", ["grader"])
    app = demo_app()

    @app.mcp.tool
    def size(blob: str) -> int:
        return len(blob)

    async with serving(app) as url:
        transport = StreamableHttpTransport(f"{url}/mcp", headers={"Authorization": f"Bearer {token}"})
        async with Client(transport) as client:
            assert (await client.call_tool("size", {"blob": "x" * 6_000_000})).structured_content == {
                "result": 6_000_000}
        async with httpx.AsyncClient() as http:
            refused = await http.post(f"{url}/mcp", content=b"x" * (app.settings.max_request_bytes + 1),
                                      headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 413 and "W2S_MAX_REQUEST_BYTES" in refused.text


def serving(app: ServerApp[Any]) -> AbstractAsyncContextManager[str]:
    """`app` over real HTTP on a free loopback port; yields its base URL."""
    return running(app.http_app())


INSPECTOR = "http://localhost:6274"
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "browser", "version": "1"}}}
MCP_ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


def preflight(origin: str) -> dict[str, str]:
    return {"Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, mcp-protocol-version"}


async def test_cors_for_a_listed_origin_and_none_for_others(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """W2S_CORS_ORIGINS: a browser client (the Inspector's direct mode) at a listed origin gets its preflight without
    a token, reads every answer (the refusals too) and the session id; any other origin gets no CORS headers."""
    tokens = TokenStore(state / "tokens.db")
    alice, other = tokens.mint("alice", ["grader"]), tokens.mint("bob", ["findings"])
    monkeypatch.setenv("W2S_CORS_ORIGINS", f"{INSPECTOR}, https://lab.example")
    app = demo_app()
    async with serving(app) as url, httpx.AsyncClient() as http:
        answer = await http.options(f"{url}/mcp", headers=preflight(INSPECTOR))
        assert answer.status_code == 204, answer.text
        cors = cors_headers(answer)
        assert cors["access-control-allow-origin"] == INSPECTOR and "access-control-allow-credentials" not in cors
        assert cors["access-control-allow-methods"] == "GET, POST, DELETE, OPTIONS"
        allowed = {h.strip().lower() for h in cors["access-control-allow-headers"].split(",")}
        assert allowed == {"authorization", "content-type", "accept", "mcp-session-id", "mcp-protocol-version",
                           "last-event-id"}
        assert answer.headers["vary"] == "Origin"

        browser = {"Origin": INSPECTOR, **MCP_ACCEPT}
        init = await http.post(f"{url}/mcp", json=INITIALIZE, headers={**browser, "Authorization": f"Bearer {alice}"})
        assert init.status_code == 200 and init.headers["mcp-session-id"], init.text
        assert init.headers["access-control-allow-origin"] == INSPECTOR and "Origin" in init.headers["vary"]
        exposed = {h.strip().lower() for h in init.headers["access-control-expose-headers"].split(",")}
        assert exposed == {"mcp-session-id", "www-authenticate"}
        assert "access-control-allow-credentials" not in init.headers

        # The refusals of the layers inside carry the origin too, so the browser client can show their text.
        missing = await http.post(f"{url}/mcp", json=INITIALIZE, headers=browser)
        unknown = await http.post(f"{url}/mcp", json=INITIALIZE, headers={**browser, "Authorization": "Bearer nope"})
        scope = await http.post(f"{url}/mcp", json=INITIALIZE, headers={**browser, "Authorization": f"Bearer {other}"})
        big = await http.post(f"{url}/mcp", content=b"x" * (app.settings.max_request_bytes + 1),
                              headers={**browser, "Authorization": f"Bearer {alice}"})
        assert [r.status_code for r in (missing, unknown, scope, big)] == [401, 401, 403, 413]
        for refused in (missing, unknown, scope, big):
            assert refused.headers["access-control-allow-origin"] == INSPECTOR, refused.status_code
        assert "ask the operator" in unknown.json()["error_description"] and "www-authenticate" in unknown.headers
        health = await http.get(f"{url}/health", headers={"Origin": "https://lab.example"})
        assert health.headers["access-control-allow-origin"] == "https://lab.example"

        for stranger in ("http://evil.example", "http://localhost:6275", "https://localhost:6274", "null"):
            refused = await http.options(f"{url}/mcp", headers=preflight(stranger))
            assert refused.status_code == 403 and "W2S_CORS_ORIGINS" in refused.text and not cors_headers(refused)
            served = await http.post(f"{url}/mcp", json=INITIALIZE, headers={
                "Origin": stranger, "Authorization": f"Bearer {alice}", **MCP_ACCEPT})
            assert served.status_code == 200 and not cors_headers(served), stranger
            assert not cors_headers(await http.post(f"{url}/mcp", json=INITIALIZE, headers={"Origin": stranger}))
    # A server-side client sends no Origin and is served as before.
    async with serving(app) as url:
        transport = StreamableHttpTransport(f"{url}/mcp", headers={"Authorization": f"Bearer {alice}"})
        async with Client(transport) as client:
            assert (await client.call_tool("whoami", {})).structured_content["agent"] == "alice"


async def test_no_cors_headers_without_the_setting(state: Path) -> None:
    alice = TokenStore(state / "tokens.db").mint("alice", ["grader"])
    async with serving(demo_app()) as url, httpx.AsyncClient() as http:
        answer = await http.options(f"{url}/mcp", headers=preflight(INSPECTOR))
        assert answer.status_code != 204 and not cors_headers(answer)
        init = await http.post(f"{url}/mcp", json=INITIALIZE,
                               headers={"Origin": INSPECTOR, "Authorization": f"Bearer {alice}", **MCP_ACCEPT})
        assert init.status_code == 200 and not cors_headers(init) and "vary" not in init.headers
        assert not cors_headers(await http.post(f"{url}/mcp", json=INITIALIZE, headers={"Origin": INSPECTOR}))


async def test_a_revoked_local_token_stops_working(state: Path) -> None:
    store = TokenStore(state / "tokens.db")
    token = store.mint("alice", ["grader"])
    async with Client(demo_app(token).mcp) as client:
        assert (await client.call_tool("whoami", {})).structured_content["agent"] == "alice"
        store.revoke(agent="alice")
        with pytest.raises(ToolError, match="revoked"):
            await client.call_tool("whoami", {})


@pytest.fixture
def built(state: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], ServerApp[Any]]]:
    """Build any server for alice (an agent token scoped for it); compute runners are stopped afterwards."""
    monkeypatch.setenv("W2S_SANDBOX", "none")  # no job runs here: the runner only has to start
    made: list[ServerApp[Any]] = []

    def build(server: str) -> ServerApp[Any]:
        token = TokenStore(state / "tokens.db").mint("alice", [server])
        app = importlib.import_module(f"mcp_servers.{server}").build_server(SETTINGS[server](), token)
        made.append(app)
        return app

    yield build
    for app in made:
        if isinstance(app.service, ComputeService):
            app.service.runner.stop()


@pytest.mark.parametrize("server", sorted(SERVICES))
def test_build_server_is_typed_serverapp_of_the_service(server: str) -> None:
    build = importlib.import_module(f"mcp_servers.{server}").build_server
    assert build is importlib.import_module(f"mcp_servers.{server}._server").build_server
    answer = typing.get_type_hints(build)["return"]
    assert typing.get_origin(answer) is ServerApp and typing.get_args(answer) == (SERVICES[server],)
    assert list(inspect.signature(build).parameters) == ["settings", "local_token"]


@pytest.mark.parametrize("server", sorted(SERVICES))
def test_the_service_is_the_typed_attribute_and_nothing_is_patched_on(server: str,
                                                                      built: Callable[[str], ServerApp[Any]]) -> None:
    app = built(server)
    assert type(app.service) is SERVICES[server] and app.name == server
    declared = set(typing.get_type_hints(ServerApp)) | {"engine", "_local_identity", "_local_token"}
    assert set(vars(app)) <= declared, set(vars(app)) - declared
    assert not hasattr(app, "state")


def test_compute_service_knows_the_callers_workspace(built: Callable[[str], ServerApp[Any]]) -> None:
    app = built("train")
    assert app.service.workspace() == app.service.settings.workspaces_dir / "alice"
    assert app.service.queue.engine is app.engine


def test_an_app_without_a_service_has_none(state: Path) -> None:
    assert ServerApp("grader").service is None


def test_a_refused_token_builds_no_service(state: Path) -> None:
    token = TokenStore(state / "tokens.db").mint("carol", ["findings"])
    calls: list[ServerApp[object]] = []

    def service(app: ServerApp[object]) -> object:
        calls.append(app)
        return object()

    with pytest.raises(PermissionError, match="not scoped for the grader server"):
        ServerApp("grader", local_token=token, service=service)
    assert calls == []
    app = ServerApp("findings", local_token=token, service=service)
    assert calls == [app] and app.local_identity is not None and app.local_identity.agent == "carol"


@pytest.mark.parametrize("package", PACKAGES)
def test_package_exports_are_the_real_objects_with_their_signatures(package: str) -> None:
    module = importlib.import_module(f"mcp_servers.{package}")
    for name in module.__all__:
        value = getattr(module, name)
        if not inspect.isfunction(value):
            continue
        assert value.__module__.startswith(f"mcp_servers.{package}."), f"{package}.{name} is a wrapper"
        kinds = [p.kind for p in inspect.signature(value).parameters.values()]
        assert kinds != [inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD], f"{package}.{name}"
    with pytest.raises(AttributeError, match="has no attribute 'nothing_here'"):
        _ = module.nothing_here


def test_lazy_exports_are_visible_to_type_checkers() -> None:
    for package in ("findings", "grader", "snapshot"):
        source = (ROOT / "mcp_servers" / package / "__init__.py").read_text()
        tree = ast.parse(source)
        guarded = [node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"]
        names = {alias.name for node in guarded for sub in node.body if isinstance(sub, ast.ImportFrom)
                 for alias in sub.names}
        assert "build_server" in names, package


def test_nothing_outside_the_jobs_package_imports_its_private_modules() -> None:
    """Tests of the jobs package itself (tests/mcp_servers/jobs) may reach its internals; nothing else does."""
    offenders = []
    for folder in ("mcp_servers", "trainer", "orchestrator", "sandbox", "benchmarks", "prompts", "scripts", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            relative = path.relative_to(ROOT)
            if relative.parts[:2] == ("mcp_servers", "jobs") or relative.parts[:3] == ("tests", "mcp_servers", "jobs"):
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                    [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
                offenders += [f"{relative}:{node.lineno} {m}" for m in modules if m.startswith("mcp_servers.jobs._")]
    assert offenders == []




def _private_trainer_imports(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "trainer":
            if any(part.startswith("_") for part in node.module.split(".")):
                found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names if a.name.startswith("_")}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names
                      if a.name.split(".")[0] == "trainer" and any(p.startswith("_") for p in a.name.split("."))}
    return found


def test_nothing_outside_the_trainer_imports_its_private_modules() -> None:
    """The trainer's public API is its packages' `__init__` (trainer.paths, trainer.jobs.JobPayload, ...); only the
    trainer itself and tests reach `trainer.*._module`."""
    sample = "from trainer import _paths, paths\nimport trainer.jobs._kinds\nfrom trainer.jobs._protocol import X"
    assert _private_trainer_imports(ast.parse(sample)) == {"trainer._paths", "trainer.jobs._kinds", "trainer.jobs._protocol"}
    offenders: dict[str, set[str]] = {}
    for folder in ("mcp_servers", "orchestrator", "sandbox", "benchmarks", "prompts", "scripts"):
        for path in (ROOT / folder).rglob("*.py"):
            found = _private_trainer_imports(ast.parse(path.read_text(), str(path)))
            if found:
                offenders[str(path.relative_to(ROOT))] = found
    assert offenders == {}
