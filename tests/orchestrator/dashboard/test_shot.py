"""`orchestrator dashboard --screenshot FILE`: the page captured by headless Chromium, plots drawn."""

from __future__ import annotations

import struct
from pathlib import Path

from typer.testing import CliRunner

from orchestrator.cli import app as orchestrator_app
from tests.orchestrator.dashboard.browser_helpers import chromium_path
from tests.orchestrator.dashboard.dash_helpers import DEnv


def test_screenshot_command(denv: DEnv, tmp_path: Path) -> None:
    chromium_path()
    out = tmp_path / "shot.png"
    result = CliRunner().invoke(orchestrator_app, ["dashboard", "--screenshot", str(out)])
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1400, 1600) and len(data) > 50_000  # a page with tables and three plots
