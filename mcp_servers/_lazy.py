"""Package exports imported on first use, so a light import of a server package (the grader's `score`, the findings
models) does not load its MCP server, fastmcp or Ray."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, names: dict[str, str]) -> Callable[[str], Any]:
    """A module-level `__getattr__` answering `names[name]`'s real object (name -> module path), imported when first
    asked for: `inspect.signature` sees the real function, and type checkers the package's TYPE_CHECKING imports."""

    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(names[name]), name)

    return __getattr__
