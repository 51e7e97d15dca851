"""`python -m mcp_servers.findings.sync --workspace DIR [...]`: keep shared_findings/ current (host side)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from mcp_servers.findings._service import FindingsSettings
from mcp_servers.findings._sync import FindingsSyncer
from trainer import paths


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mcp_servers.findings.sync",
                                     description="Sync shared findings into agent workspaces (reads the findings db).")
    parser.add_argument("--workspace", action="append", type=Path, default=[],
                        help="a workspace folder (repeat); shared_findings/ is written inside it")
    parser.add_argument("--all", action="store_true",
                        help="every folder under the workspaces dir (W2S_WORKSPACES_DIR), re-listed each poll")
    parser.add_argument("--once", action="store_true", help="one pass, then exit")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between polls (default 1)")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    if not args.workspace and not args.all:
        parser.error("name at least one --workspace, or --all")
    for workspace in args.workspace:
        if not workspace.is_dir():
            parser.error(f"{workspace} is not a directory")
    root = paths().workspaces_dir
    syncer = FindingsSyncer(args.workspace, FindingsSettings(), interval=args.interval)

    def discover() -> None:
        if args.all and root.is_dir():
            for child in root.iterdir():
                if child.is_dir() and not child.is_symlink() and child.resolve() not in syncer.workspaces:
                    syncer.add_workspace(child)

    if args.once:
        discover()
        written = syncer.poll()
        print(f"{sum(written.values())} file(s) written in {len(written)} workspace(s)")
        return 0

    stopped = threading.Event()

    def _stop(_sig: int, _frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    discover()
    with syncer:
        while not stopped.wait(5.0):
            discover()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
