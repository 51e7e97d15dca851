"""`orchestrator dashboard --screenshot FILE`: the page as a PNG, taken by a headless Chromium (for docs, posts).

The dashboard is served on a free loopback port for the shot only; Chromium gets a throwaway profile and a
virtual-time budget so the page's plots finish drawing before the capture.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")


def find_browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    raise RuntimeError("no Chromium found for the screenshot; install one (Debian: apt-get install -y chromium)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def screenshot(app: Starlette, out: Path, width: int = 1400, height: int = 1600, wait_ms: int = 6000) -> Path:
    """Serve `app` on loopback, capture `/` into `out` (PNG), stop; answers `out`."""
    browser = find_browser()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=_free_port(), log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the dashboard did not start for the screenshot")
        time.sleep(0.05)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(prefix="w2s-shot-") as profile:
            done = subprocess.run(
                [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                 f"--user-data-dir={profile}", f"--window-size={width},{height}",
                 f"--virtual-time-budget={wait_ms}", f"--screenshot={out.resolve()}",
                 f"http://127.0.0.1:{server.config.port}/"],
                capture_output=True, text=True, timeout=120, check=False)
    finally:
        server.should_exit = True
        thread.join(10)
    if done.returncode != 0 or not out.is_file():
        raise RuntimeError(f"{browser} could not take the screenshot: {done.stderr.strip()[-500:]}")
    return out
