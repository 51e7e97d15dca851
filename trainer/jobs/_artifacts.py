"""Where a job's weak-label artifacts go: the shared cache is read-only in a sandbox, so a job builds into the
agent's own `artifacts/` and sees the shared ones (and the shared feature cache) there as links (a cache hit costs
nothing).

The host never follows those links: it looks an id up in the shared cache first, then reads the agent's own copy
with `open_beneath` (mcp_servers/train/_labels.py).
"""

from __future__ import annotations

import os
from pathlib import Path

from trainer.jobs._fs import make_dirs_nofollow

OWN_ARTIFACTS = "artifacts"
"""Folder of the workspace that holds the agent's own weak artifacts."""


def use_own_artifacts(workspace: Path) -> Path:
    """Point the trainer at `<workspace>/artifacts`, linking in every shared artifact it lacks; answers it."""
    shared_env = os.environ.get("W2S_ARTIFACTS_DIR")
    own = workspace / OWN_ARTIFACTS
    if shared_env and Path(shared_env) == own:
        return own
    own = make_dirs_nofollow(workspace, OWN_ARTIFACTS)
    shared = Path(shared_env) if shared_env else None
    if shared is not None and shared.is_dir():
        # Weak artifacts one by one (the agent's own sit beside them); the feature cache as a whole (the trainer
        # reads it there and, finding it read-only, writes new features under HOME instead).
        entries = [e for e in sorted(shared.glob("weak-*")) if (e / "info.json").is_file()]
        entries += [shared / "features"] if (shared / "features").is_dir() else []
        for entry in entries:
            if not os.path.lexists(own / entry.name):
                try:
                    os.symlink(entry, own / entry.name)
                except FileExistsError:
                    pass  # another job of this agent linked it first
    os.environ["W2S_ARTIFACTS_DIR"] = str(own)
    return own
