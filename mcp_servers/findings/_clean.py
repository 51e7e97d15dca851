"""Numbers and text an agent sends, made safe to store and to show.

JSON has no NaN or infinity, yet Python's parsers accept them: a config holding one would be stored as `NaN` and
then break every strict JSON reader (clients, dashboards) that reads it back. `non_finite_path` finds one anywhere
in nested JSON so the tool can refuse it with its location; `finite` turns any that are already stored into null,
so an old row never breaks `read_finding` or `sync_findings` for anyone.

Every finding and comment is synced into every agent's workspace, so a token pasted into one would let any agent
act as its owner: `secret_in` finds a live w2s bearer token (checked by hash in the tokens database) or an
Anthropic API key in the text of a post, and the tool refuses it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from mcp_servers.core import TokenStore

_ANTHROPIC_KEY = re.compile(r"sk-ant-[A-Za-z0-9_-]{20,}")
_W2S_TOKEN = re.compile(r"(?=(w2s_[A-Za-z0-9_-]{43}))")


def non_finite_path(value: Any, path: str = "config") -> str | None:
    """The location (`config.opt.lrs[2]`) of the first NaN or infinity inside `value`, or None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else path
    if isinstance(value, dict):
        for key, item in value.items():
            if (found := non_finite_path(item, f"{path}.{key}")) is not None:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            if (found := non_finite_path(item, f"{path}[{index}]")) is not None:
                return found
    return None


def finite(value: Any) -> Any:
    """`value` with every NaN or infinity (at any depth) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    return value


def finite_or_none(value: float | None) -> float | None:
    return value if value is None or math.isfinite(value) else None


def stored_json(text: str, default: Any) -> Any:
    """A JSON column as stored (NaN made null); `default` if it cannot be read, so one bad row breaks nothing."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return default
    return finite(value) if isinstance(value, type(default)) else default


def secret_in(fields: Mapping[str, str], tokens: TokenStore) -> tuple[str, str] | None:
    """(field name, kind) of the first field that carries a live token or an API key, or None."""
    candidates: dict[str, str] = {}
    for name, text in fields.items():
        if _ANTHROPIC_KEY.search(text):
            return name, "an Anthropic API key"
        for match in _W2S_TOKEN.finditer(text):
            candidates.setdefault(match.group(1), name)
    live = tokens.live_agents(candidates)
    return (candidates[next(iter(live))], "a live w2s bearer token") if live else None
