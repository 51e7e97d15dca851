"""What every findings request is checked against: the server's settings (limits), its refusal error, the finding
types and method families, and free text turned into a search expression."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from mcp_servers.core import RefusedError, ServerSettings
from mcp_servers.findings._models import FINDING_TYPES
from prompts import method_families


class FindingsError(RefusedError):
    """A refused request of the findings server."""


class FindingsSettings(ServerSettings):
    """Findings keys: `W2S_FINDINGS_<KEY>` or the `[findings]` table of the settings file."""

    model_config = SettingsConfigDict(env_prefix="W2S_FINDINGS_", extra="ignore", populate_by_name=True)
    config_section = "findings"

    grader_db: Path | None = Field(None, description="the grader's database (default <state_dir>/grader.db)")
    max_body_chars: int = Field(100_000, ge=100)
    max_comment_chars: int = Field(10_000, ge=10)
    max_config_chars: int = Field(20_000, ge=2)
    max_page: int = Field(50, ge=1, le=500, description="largest search / sync page")

    @property
    def grader_db_path(self) -> Path:
        return self.grader_db or self.db_path("grader")


def _key(text_: str) -> str:
    return re.sub(r"[\s_-]+", " ", text_.strip().lower())


def canonical_family(value: str) -> str:
    """The method family `value` names (case, '-', '_' and spaces ignored), or FindingsError listing them all."""
    families = method_families()
    for family in families:
        if _key(family) == _key(value):
            return family
    raise FindingsError(f"unknown method_family {value!r}", f"send one of: {', '.join(families)}")


def check_type(value: str) -> str:
    if value.strip().lower() not in FINDING_TYPES:
        raise FindingsError(f"unknown finding_type {value!r}", f"send one of: {', '.join(FINDING_TYPES)}")
    return value.strip().lower()


def fts_query(query: str) -> str | None:
    """Free text -> an FTS5 MATCH expression (quoted terms OR-ed: bm25 ranks documents matching more terms)."""
    terms = list(dict.fromkeys(re.findall(r"\w+", query.lower())))[:32]
    return " OR ".join(f'"{t}"' for t in terms) or None
