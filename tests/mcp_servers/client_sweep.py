"""A server swept as its clients see it (tests/mcp_servers/test_typescript_clients.py): connect over streamable HTTP
with a bearer token, list the tools, call a planned list of tools, then try a token lacking the server's scope.

Two sweepers answer the same JSON: the official TypeScript SDK (tests/node/sweep.mjs: zod checks each tool
definition, ajv validates structuredContent against each outputSchema), and the Python SDK whose raw results are
validated here with jsonschema (Draft 2020-12, formats checked, as ajv does). A string argument "{{i.field}}" is
replaced by `field` of call i's structuredContent (an id made by an earlier call)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport
from jsonschema import Draft202012Validator, FormatChecker

from mcp_servers.core import ServerApp
from tests.mcp_servers.server_helpers import REPO, running

Call = dict[str, Any]
Answer = dict[str, Any]
Sweep = Callable[[ServerApp[Any], str, str, list[Call]], Awaitable[Answer]]
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "w2s-sweep", "version": "0"}}}
REF = re.compile(r"^\{\{(\d+)\.([\w.]+)\}\}$")


def call(name: str, **arguments: Any) -> Call:
    return {"name": name, "arguments": arguments}


def node_sweep(script: Path) -> Sweep:
    async def sweep(app: ServerApp[Any], token: str, wrong_scope_token: str, calls: list[Call]) -> Answer:
        plan = {"token": token, "wrong_scope_token": wrong_scope_token, "calls": calls}
        async with running(app.http_app()) as url:
            node = await asyncio.create_subprocess_exec(
                shutil.which("node") or "node", str(script), env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            sent = json.dumps(plan | {"url": f"{url}/mcp"}).encode()
            out, err = await asyncio.wait_for(node.communicate(sent), 120)
        assert node.returncode == 0, err.decode()[-3000:]
        return json.loads(out.decode().splitlines()[-1])

    return sweep


async def node_stdio_sweep(script: Path, module: str, env: dict[str, str], calls: list[Call]) -> Answer:
    """sweep.mjs starting `python -m <module> --transport stdio` itself (the Inspector's stdio transport)."""
    stdio = {"command": sys.executable, "args": ["-m", module, "--transport", "stdio"], "env": env,
             "cwd": str(REPO)}
    node = await asyncio.create_subprocess_exec(
        shutil.which("node") or "node", str(script), env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(node.communicate(json.dumps({"stdio": stdio, "calls": calls}).encode()), 120)
    assert node.returncode == 0, err.decode()[-3000:]
    return json.loads(out.decode().splitlines()[-1])


def _resolve(value: Any, done: list[dict[str, Any]]) -> Any:
    if isinstance(value, str) and (ref := REF.match(value)):
        found: Any = done[int(ref[1])]["structured"] if int(ref[1]) < len(done) else None
        for key in ref[2].split("."):
            found = found.get(key) if isinstance(found, dict) else None
        return found
    if isinstance(value, list):
        return [_resolve(v, done) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, done) for k, v in value.items()}
    return value


def schema_errors(schema: dict[str, Any], instance: Any) -> list[str]:
    """What is wrong with `instance` under `schema` (empty when it is valid)."""
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(instance)]


async def python_sweep(app: ServerApp[Any], token: str, wrong_scope_token: str, calls: list[Call]) -> Answer:
    async with running(app.http_app()) as url:
        transport = StreamableHttpTransport(f"{url}/mcp", headers={"Authorization": f"Bearer {token}"})
        async with Client(transport) as client:
            capabilities = client.server_capabilities.model_dump(exclude_none=True) if client.server_capabilities else {}
            tools = {t.name: t for t in await client.list_tools()}
            answer: Answer = {"capabilities": capabilities, "list_error": None, "calls": [], "tools": [
                {"name": t.name, "read_only": t.annotations.read_only_hint if t.annotations else None,
                 "output_schema": t.output_schema is not None} for t in tools.values()]}
            if "resources" in capabilities:
                answer["resources"] = [str(r.uri) for r in await client.list_resources()]
                answer["resource_templates"] = [r.uri_template for r in await client.list_resource_templates()]
            if "prompts" in capabilities:
                answer["prompts"] = [p.name for p in await client.list_prompts()]
            for planned in calls:
                args = _resolve(planned["arguments"], answer["calls"])
                try:
                    result = await client.call_tool_mcp(planned["name"], args)
                except Exception as error:  # noqa: BLE001 - the Python SDK's own output check, as the TS SDK throws
                    answer["calls"].append({"name": planned["name"], "arguments": args, "is_error": None,
                                            "threw": str(error), "text": None, "structured": None})
                    continue
                structured, schema = result.structured_content, tools[planned["name"]].output_schema
                wrong = schema_errors(schema, structured) if schema and structured is not None else []
                answer["calls"].append({
                    "name": planned["name"], "arguments": args, "is_error": result.is_error,
                    "threw": f"structuredContent against outputSchema: {wrong}" if wrong else None,
                    "text": "\n".join(getattr(c, "text", "") for c in result.content), "structured": structured})
        async with httpx.AsyncClient() as http:
            refused = await http.post(f"{url}/mcp", json=INITIALIZE, headers={
                "Authorization": f"Bearer {wrong_scope_token}", "Accept": "application/json, text/event-stream"})
            unknown = await http.post(f"{url}/mcp", json=INITIALIZE, headers={
                "Authorization": "Bearer w2s_not_a_token", "Accept": "application/json, text/event-stream"})
        answer["wrong_scope"] = {"status": refused.status_code, "body": refused.text,
                                 "www_authenticate": refused.headers.get("www-authenticate")}
        answer["unknown_token"] = {"status": unknown.status_code, "body": unknown.text,
                                   "www_authenticate": unknown.headers.get("www-authenticate")}
    return answer


def check(answer: Answer, server: str, bad: str) -> dict[str, dict[str, Any]]:
    """The checks every server passes; the calls that succeeded by name (the last of each), for server checks.

    `bad` names the argument of the last call, planned to fail."""
    assert answer["list_error"] is None, answer["list_error"]
    tools = {t["name"]: t for t in answer["tools"]}
    assert all(t["output_schema"] for t in tools.values()), tools
    *calls, refused = answer["calls"]
    failed = [c for c in calls if c["threw"] is not None or c["is_error"]]
    assert not failed, json.dumps(failed, indent=1)[:4000]
    called = {c["name"] for c in calls}
    read_only = {name for name, t in tools.items() if t["read_only"]}
    assert read_only <= called, f"read-only tools the sweep did not call: {read_only - called}"
    assert called - read_only, "no write tool called"
    # A bad argument: a tool result with isError naming the argument, which the SDK hands back without throwing.
    assert refused["threw"] is None and refused["is_error"] is True, refused
    assert bad in refused["text"] and len(refused["text"]) < 2000, refused["text"]
    assert not any(noise in refused["text"] for noise in ("errors.pydantic.dev", "Traceback", "input_value")), refused
    # Resources and prompts, where the server declares them, are listed by the SDK without error.
    caps = answer["capabilities"]
    assert ("resources" in answer) == ("resources" in caps) and ("prompts" in answer) == ("prompts" in caps)
    # A live token without this server's scope: 403 whose text says which scope and how to get it, and no
    # WWW-Authenticate challenge; the SDK's error shows that text, and with an auth provider (as the Inspector's)
    # no OAuth step runs.
    wrong = answer["wrong_scope"]
    assert wrong["status"] == 403 and wrong["www_authenticate"] is None, wrong
    assert f"lacks the {server} scope" in json.loads(wrong["body"])["error_description"], wrong
    assert not any(answer.get("extras", {}).values()), answer["extras"]  # ping, log level, DELETE (TS SDK)
    # An unknown token: 401 with a challenge, whose text sends the agent to the operator (no OAuth to re-run).
    unknown = answer["unknown_token"]
    assert unknown["status"] == 401 and 'error="invalid_token"' in unknown["www_authenticate"], unknown
    assert f"ask the operator for a token of the {server} server" in json.loads(unknown["body"])["error_description"]
    if "client_error" in wrong:
        assert f"lacks the {server} scope" in wrong["client_error"], wrong
        assert not wrong["oauth_steps"], json.dumps(wrong, indent=1)
        assert f"lacks the {server} scope" in (wrong["oauth_error"] or ""), wrong
    return {c["name"]: c for c in calls}
