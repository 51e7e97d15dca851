"""Fixtures of the grader tests: a tmp W2S_HOME, tiny synthetic datasets prepared into a label store, tokens."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mcp_servers.core import TokenStore
from mcp_servers.grader import Calibration, SliceCalibration, write_calibration
from mcp_servers.grader._service import GraderSettings
from mcp_servers.grader.datasets import LabelStore, prepare_dataset
from tests.mcp_servers.grader.toy_grader import pair_rows
from tests.mcp_servers.server_helpers import ServerProcess, free_port, running

REPO = Path(__file__).resolve().parents[3]


@dataclass
class Env:
    home: Path
    settings: GraderSettings
    tokens: dict[str, str]
    truth: dict[str, list[int]]
    """Test labels per dataset in public file order (what the attack tries to learn)."""


def _write(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def binary_rows(groups: int, rng: random.Random, tag: str) -> list[dict[str, Any]]:
    return pair_rows(groups, rng, tag, subsets=True)


def pref_rows(n: int, rng: random.Random, tag: str) -> list[dict[str, Any]]:
    return [{"prompt": f"{tag} p{i}", "first": "a", "second": "b", "label": rng.choice("AB")} for i in range(n)]


def build_env(home: Path, test_groups: int = 500) -> Env:
    rng = random.Random(0)
    labeled = home / "src"
    for name, maker, sizes in (("toy", binary_rows, (20, 40, test_groups)), ("pref", pref_rows, (20, 40, 120))):
        for split, size in zip(("train_label", "train_unlabel", "test"), sizes, strict=True):
            _write(labeled / name / f"{split}.jsonl", maker(size, rng, f"{name}-{split}"))
    settings = GraderSettings()
    store = LabelStore(settings.label_store)
    from trainer import paths

    for name in ("toy", "pref"):
        prepare_dataset(labeled / name, paths().data_dir, store)
    write_calibration(settings.label_store, "toy", Calibration(
        weak_acc=0.6, strong_acc=0.9, seeds=3, source="test fixture",
        slices={"id": SliceCalibration(weak_acc=0.6, strong_acc=0.9),
                "ood": SliceCalibration(weak_acc=0.55, strong_acc=0.85)}))
    tokens = TokenStore(settings.tokens_db)
    minted = {
        "alice": tokens.mint("alice", ["grader"]),
        "bob": tokens.mint("bob", ["grader", "findings"]),
        "carol": tokens.mint("carol", ["findings"]),
        "admin": tokens.mint("operator", ["grader"], admin=True),
    }
    truth = {name: store.load(name, "test").labels for name in ("toy", "pref")}
    return Env(home, settings, minted, truth)


@pytest.fixture
def env(w2s_home: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    """The root w2s_home (no operator setting left), datasets `toy` and `pref`, four tokens."""
    monkeypatch.setenv("W2S_LITESTREAM", "false")
    return build_env(w2s_home)


def grader_process(home: Path, port: int, litestream: bool = False) -> ServerProcess:
    """`python -m mcp_servers.grader --transport http` as a child process.

    Budget and rate limits are lifted: these processes serve load and durability tests, which submit faster
    than the default rate (the limits themselves are tested in process).
    """
    return ServerProcess("mcp_servers.grader", home, port, W2S_LITESTREAM="true" if litestream else "false",
                         W2S_GRADER_MAX_SUBMISSIONS="0", W2S_GRADER_RATE_LIMIT_PER_MINUTE="0",
                         W2S_GRADER_RATE_LIMIT_PER_HOUR="0")


@pytest.fixture
def server_process(env: Env) -> Iterator[ServerProcess]:
    proc = grader_process(env.home, free_port())
    yield proc
    proc.stop()


@pytest.fixture
def make_server(env: Env) -> Iterator[Callable[..., ServerProcess]]:
    """Factory of extra server processes on free ports (stopped at teardown)."""
    made: list[ServerProcess] = []

    def make(litestream: bool = False) -> ServerProcess:
        made.append(grader_process(env.home, free_port(), litestream=litestream))
        return made[-1]

    yield make
    for proc in made:
        proc.stop()


@pytest.fixture
def serve_app() -> Callable[[Any], Any]:
    """`async with serve_app(starlette_app) as url:` runs uvicorn on a loopback port."""
    return running
