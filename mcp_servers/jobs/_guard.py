"""Defence in depth for the compute servers: an audit hook that refuses to open anything under private dirs.

Deployment already keeps the label store away from compute (no mount in compose, no bind in a sandbox); this
makes the promise hold even where the operator runs everything on one host under one user. CPython audit hooks
cannot be removed once added, so the guard lasts for the life of the process (and of its forked workers).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_DENIED: list[str] = []
_INSTALLED = False


def _check(event: str, args: tuple[Any, ...]) -> None:
    if event not in ("open", "os.listdir", "os.scandir") or not _DENIED or not args:
        return
    target = args[0]
    if isinstance(target, int) or target is None:
        return
    try:
        path = os.path.realpath(os.fsdecode(target))
    except (TypeError, ValueError):
        return
    for denied in _DENIED:
        if path == denied or path.startswith(denied + os.sep):
            raise PermissionError(f"compute servers may not read private data: {path}")


def deny_paths(paths: Iterable[Path]) -> list[str]:
    """Add folders to the deny list (installing the hook once); returns the full list."""
    global _INSTALLED
    for path in paths:
        real = os.path.realpath(path)
        if real not in _DENIED and real != os.sep:
            _DENIED.append(real)
    if not _INSTALLED:
        sys.addaudithook(_check)
        _INSTALLED = True
    return list(_DENIED)


def denied_paths() -> list[str]:
    return list(_DENIED)
