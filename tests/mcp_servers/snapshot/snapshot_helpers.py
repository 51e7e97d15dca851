"""Helpers of the snapshot tests: workspaces with awkward trees, tar builders, tree comparison, a loopback server."""

from __future__ import annotations

import base64
import io
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastmcp import Client
from sqlalchemy import func
from sqlmodel import select

from mcp_servers.core import read_session
from mcp_servers.snapshot import SnapshotSettings
from mcp_servers.snapshot._records import SnapshotRow
from tests.mcp_servers.server_helpers import free_port, running  # noqa: F401  (re-exported for the tests)


@dataclass
class SEnv:
    home: Path
    settings: SnapshotSettings
    tokens: dict[str, str]

    def ws(self, agent: str) -> Path:
        return self.settings.workspaces_dir / agent

Tree = dict[str, tuple[bytes, bool] | None]
"""relative path -> (content, executable) for files, None for folders."""


def tree_of(root: Path) -> Tree:
    """Every file and folder under `root` (symlinks are not followed and not listed)."""
    out: Tree = {}
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        for d in dirnames:
            if not (base / d).is_symlink():
                out[(base / d).relative_to(root).as_posix()] = None
        for f in filenames:
            path = base / f
            if not path.is_symlink():
                out[path.relative_to(root).as_posix()] = (path.read_bytes(), os.access(path, os.X_OK))
    return out


def make_workspace(ws: Path) -> Tree:
    """A tree with nested folders, an empty folder, empty, binary and executable files; answers what a snapshot
    must hold (caches and ignored paths, also created here, are left out)."""
    files = {
        "train.py": (b"print('hi')\n", False),
        "run.sh": (b"#!/bin/sh\necho run\n", True),
        "empty.txt": (b"", False),
        "blob.bin": (bytes(range(256)) * 40 + os.urandom(1000), False),
        "src/pkg/__init__.py": (b"", False),
        "src/pkg/deep/er/mod.py": (b"X = 1\n" * 100, False),
        "src/pkg/deep/er/tool": (b"\x7fELF\x00\x01binary", True),
        ".snapshotignore": (b"*.log\noutputs/\n# comment\n", False),
    }
    for rel, (data, exe) in files.items():
        path = ws / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o755 if exe else 0o644)
    (ws / "empty_dir").mkdir()
    for junk in ("__pycache__/m.pyc", ".git/HEAD", ".venv/bin/python", "node_modules/x/i.js",
                 "shared_findings/INDEX.md", "src/pkg/__pycache__/a.pyc", "outputs/preds.json", "train.log"):
        (ws / junk).parent.mkdir(parents=True, exist_ok=True)
        (ws / junk).write_bytes(b"junk")
    expected: Tree = {rel: val for rel, val in files.items()}
    for rel in list(files):
        parts = rel.split("/")
        for i in range(1, len(parts)):
            expected["/".join(parts[:i])] = None
    expected["empty_dir"] = None
    return expected


def tar_b64(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> str:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return base64.b64encode(out.getvalue()).decode()


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "", mode: int = 0o644) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, mode
    return info


async def call(app: Any, tool: str, **args: Any) -> dict[str, Any]:
    """One tool call on the server in memory; its structured answer."""
    async with Client(app.mcp) as client:
        return (await client.call_tool(tool, args)).structured_content  # type: ignore[return-value]


def rows(app: Any) -> int:
    """How many snapshots the server has stored."""
    with read_session(app.engine) as session:
        return int(session.exec(select(func.count()).select_from(SnapshotRow)).one())
