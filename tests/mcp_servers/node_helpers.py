"""The official TypeScript MCP SDK for the Node client tests: tests/node/ (the SDK pinned by its package-lock.json),
installed by `.ci/run` with `npm ci`, or here when missing; the tests skip, saying why, without Node or npm."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).resolve().parents[1] / "node"


def node_sdk() -> Path:
    """tests/node/ with its node_modules; skips the test without Node or npm, or when `npm ci` fails."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed to run the TypeScript MCP SDK client (Node >= 18; CI has Node 20)")
    if not (NODE_DIR / "node_modules" / "@modelcontextprotocol" / "sdk").is_dir():
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, capture_output=True, text=True,
                              timeout=600, check=False)
        if done.returncode != 0:
            pytest.skip(f"`npm ci` in {NODE_DIR} failed (no npm registry?): {done.stderr.strip()[-500:]}")
    return NODE_DIR
