"""Tests mirror the source tree: `tests/<pkg>/test_<module>.py` tests `<pkg>/<module>.py` or `<pkg>/_<module>.py`
(`test_main.py` tests `__main__.py`, `test_<pkg>.py` a package's `__init__.py`), one test file per module. These
checks keep the habit as files are added: a test file that names no module fails here, saying what it looked for."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"

# Test files named after no single module, each with what it tests. Keep this list short: a file that mostly tests
# one module is named after it (and split if it tests several).
ALLOWED = {
    # several modules together
    "tests/test_layout.py": "the layout of tests/ itself",
    "tests/mcp_servers/grader/test_attacks.py": "attacks on the whole grader (scoring, ladder, climb flags, "
                                                "leaderboard), with the attackers of attacks.py",
    "tests/mcp_servers/jobs/test_tools_node.py": "wait_job from the official TypeScript SDK (Node) against a real "
                                                 "train server",
    "tests/mcp_servers/test_typescript_clients.py": "every server's tools from the official TypeScript SDK (Node): "
                                                    "schemas, results, argument errors, wrong-scope tokens",
    "tests/sandbox/test_compose.py": "compose.yaml, a deployment file rather than a module, against the sandbox "
                                     "policy",
    "tests/trainer/features/test_features_train_server.py": "the feature-head tier through the real train and "
                                                            "predict servers",
}


def modules_named_by(test: Path) -> list[Path]:
    """The source files `test` is named after that exist (empty when it names none)."""
    folder = test.parent.relative_to(TESTS)
    name = test.stem.removeprefix("test_")
    source = REPO / folder
    candidates = [source / f"{name}.py", source / f"_{name}.py", source / name / "__init__.py",
                  source / f"_{name}" / "__init__.py"]
    if name == "main":
        candidates.append(source / "__main__.py")
    if name == folder.name:
        candidates.append(source / "__init__.py")
    return [c for c in candidates if c.is_file()]


def _test_files() -> list[Path]:
    return sorted(TESTS.rglob("test_*.py"))


def _rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def test_every_test_file_is_named_after_a_module() -> None:
    misnamed = [_rel(t) for t in _test_files() if not modules_named_by(t) and _rel(t) not in ALLOWED]
    assert not misnamed, (
        "test files that name no module (tests/<pkg>/test_<module>.py tests <pkg>/<module>.py or <pkg>/_<module>.py; "
        "rename each after the module it tests, or split it): " + ", ".join(misnamed))


def test_the_allowed_list_holds_only_existing_unnamed_files() -> None:
    stale = [p for p in ALLOWED if not (REPO / p).is_file()]
    named = [p for p in ALLOWED if (REPO / p).is_file() and modules_named_by(REPO / p)]
    assert not stale, f"listed in ALLOWED but gone (drop them from the list): {stale}"
    assert not named, f"listed in ALLOWED but named after a module (drop them from the list): {named}"


def test_one_test_file_per_module() -> None:
    by_module: dict[str, list[str]] = {}
    for test in _test_files():
        for module in modules_named_by(test):
            by_module.setdefault(_rel(module), []).append(_rel(test))
    shared = {module: tests for module, tests in by_module.items() if len(tests) > 1}
    assert not shared, f"modules with more than one test file (merge them): {shared}"


def test_every_benchmark_runs_in_ci_at_a_tiny_size() -> None:
    """A benchmark the docs quote rots unless something runs it: each gets tests/benchmarks/test_<bench>.py."""
    scripts = sorted(p.stem for p in (REPO / "benchmarks").glob("*.py") if not p.name.startswith("_"))
    untested = [s for s in scripts if not (TESTS / "benchmarks" / f"test_{s}.py").is_file()]
    assert scripts and not untested, f"benchmarks without a tiny run in tests/benchmarks/: {untested}"


def test_the_checker_tells_named_from_unnamed_files() -> None:
    named = {"tests/mcp_servers/grader/test_scoring.py": "mcp_servers/grader/_scoring.py",
             "tests/mcp_servers/grader/test_main.py": "mcp_servers/grader/__main__.py",
             "tests/sandbox/backends/test_bwrap.py": "sandbox/backends/bwrap.py",
             "tests/benchmarks/test_chaos_bench.py": "benchmarks/chaos_bench.py"}
    for test, module in named.items():
        assert [_rel(m) for m in modules_named_by(REPO / test)] == [module]
    for unnamed in ("tests/mcp_servers/grader/test_grader_scoring.py", "tests/sandbox/test_bwrap_backend.py",
                    "tests/trainer/test_nothing_here.py"):
        assert modules_named_by(REPO / unnamed) == []
