"""A scripted stand-in for the Anthropic Messages API (tests only): the real claude CLI talks to it through
ANTHROPIC_BASE_URL and the orchestrator's proxy, and it answers each agent turn with the next `tool_use` of a
script, so real MCP tools run end to end without a key or a network.

A turn is a request that carries `tools`; its step is the number of tool results in the conversation so far.
Other requests (the CLI's side calls) get a short text answer. Every request's path, model and headers are kept.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

Step = Callable[[list[str]], tuple[str, dict[str, Any]] | None]
"""From the tool results so far (their text), the next (tool name, input), or None to end the session."""


def tool_results(messages: list[dict[str, Any]]) -> list[str]:
    found = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            for block in content:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    inner = block.get("content")
                    if isinstance(inner, list):
                        inner = " ".join(str(b.get("text", "")) for b in inner if isinstance(b, dict))
                    found.append(str(inner))
    return found


def find_int(text: str, key: str) -> int | None:
    match = re.search(rf'"{key}"\s*:\s*(\d+)', text)
    return int(match.group(1)) if match else None


class ScriptedAPI:
    def __init__(self, script: list[Step], model: str = "claude-sonnet-4-5") -> None:
        self.script, self.model = script, model
        self.requests: list[dict[str, Any]] = []
        self.turns = 0
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:
                pass

            def do_GET(self) -> None:
                self._send_json(200, {"data": [], "has_more": False})

            def do_HEAD(self) -> None:
                self.send_response(200)
                self.end_headers()

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                api.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if "count_tokens" in self.path:
                    self._send_json(200, {"input_tokens": 100})
                    return
                block = api.answer(body)
                message = {"id": f"msg_{len(api.requests)}", "type": "message", "role": "assistant",
                           "model": body.get("model", api.model), "content": [block],
                           "stop_reason": "tool_use" if block["type"] == "tool_use" else "end_turn",
                           "stop_sequence": None, "usage": {"input_tokens": 1000, "output_tokens": 50}}
                if body.get("stream"):
                    self._stream(message)
                else:
                    self._send_json(200, message)

            def _send_json(self, status: int, data: dict[str, Any]) -> None:
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _stream(self, message: dict[str, Any]) -> None:
                block = message["content"][0]
                start = {**message, "content": [], "stop_reason": None,
                         "usage": {"input_tokens": 1000, "output_tokens": 1}}
                events: list[tuple[str, dict[str, Any]]] = [("message_start", {"type": "message_start",
                                                                                "message": start})]
                if block["type"] == "tool_use":
                    events += [("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {
                        **block, "input": {}}}), ("content_block_delta", {
                            "type": "content_block_delta", "index": 0, "delta": {
                                "type": "input_json_delta", "partial_json": json.dumps(block["input"])}})]
                else:
                    events += [("content_block_start", {"type": "content_block_start", "index": 0,
                                                        "content_block": {"type": "text", "text": ""}}),
                               ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {
                                   "type": "text_delta", "text": block["text"]}})]
                events += [("content_block_stop", {"type": "content_block_stop", "index": 0}),
                           ("message_delta", {"type": "message_delta", "delta": {
                               "stop_reason": message["stop_reason"], "stop_sequence": None},
                               "usage": {"output_tokens": 50}}),
                           ("message_stop", {"type": "message_stop"})]
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("cache-control", "no-cache")
                self.end_headers()
                for name, data in events:
                    self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
                    self.wfile.flush()
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("tools"):
            return {"type": "text", "text": "ok"}
        results = tool_results(body.get("messages", []))
        step = self.script[len(results)](results) if len(results) < len(self.script) else None
        if step is None:
            return {"type": "text", "text": "Done: the scripted session is over."}
        self.turns += 1
        name, arguments = step
        return {"type": "tool_use", "id": f"toolu_{len(self.requests):04d}", "name": name, "input": arguments}

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
