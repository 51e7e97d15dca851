"""Helpers of the findings tests: a tmp W2S_HOME with the toy grader dataset, real grader submissions, tokens."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mcp_servers.core import TokenStore
from mcp_servers.findings import FindingsSettings
from mcp_servers.grader._service import Grader
from tests.mcp_servers.grader.toy_grader import build_toy_grader, submit_toy
from tests.mcp_servers.server_helpers import free_port, running  # noqa: F401  (re-exported for the tests)

AGENTS = ("alice", "bob", "carol")


@dataclass
class FEnv:
    home: Path
    settings: FindingsSettings
    tokens: dict[str, str]
    grader: Grader
    truth: list[int]

    def submit(self, agent: str, correct: float, idea: str = "vanilla") -> int:
        """A real grader submission of `agent` with about `correct` of the test rows right; its id."""
        return submit_toy(self.grader, self.truth, agent, correct, idea)


def build_fenv(home: Path) -> FEnv:
    grader, truth = build_toy_grader(home)
    tokens = TokenStore(FindingsSettings().tokens_db)
    minted = {a: tokens.mint(a, ["grader", "findings", "snapshot"]) for a in AGENTS}
    minted["grader-only"] = tokens.mint("dave", ["grader"])
    return FEnv(home, FindingsSettings(), minted, grader, truth)
