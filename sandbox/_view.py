"""A sandbox's view, rebuilt on the host from its spec, and the leak scan over it.

The scan never starts a sandbox: it walks the host sources of every bind (the workspace and the public tree
deeply, the interpreter and system trees by name) and reports paths as the agent sees them. So neither the
fingerprint nor the scanner's code is ever within an agent's reach, and a planted `sandbox/leak_scan.py` in a
workspace is data to this walk like any other file.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

from sandbox._spec import (
    INSIDE_ARTIFACTS,
    INSIDE_DATA,
    INSIDE_WORKSPACE,
    SECRET_HOME_DIRS,
    SandboxPolicyError,
    SandboxSpec,
    check_policy,
    forbidden_trees,
    raw_masks,
)
from sandbox.leak_scan import Fingerprint, Root, Scanner, Tokens

SYSTEM_TREES = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin")


def spec_for_agent(agent: str) -> SandboxSpec:
    """The spec the orchestrator gives `agent` (workspace under W2S_WORKSPACES_DIR, the public tree)."""
    from trainer import paths

    p = paths()
    return SandboxSpec(agent_id=agent, workspace=p.workspaces_dir / agent, data_dir=p.data_dir,
                       models_dir=p.models_dir, artifacts_dir=p.artifacts_dir, command=["true"])


def view(spec: SandboxSpec, *, system: bool = True) -> list[Root]:
    """Every host tree bound into the sandbox, with where it appears inside and whether to read contents."""
    roots = [Root(str(spec.workspace.resolve()), str(INSIDE_WORKSPACE), deep=True)]
    for source, inside in spec.read_only_binds():
        roots.append(Root(str(source.resolve()), str(inside), deep=inside in (INSIDE_DATA, INSIDE_ARTIFACTS)))
    trees = [spec.python_prefix.resolve()] + ([spec.venv.resolve()] if spec.venv else [])
    for tree in dict.fromkeys(trees):
        if not tree.is_relative_to("/usr"):
            masked = frozenset(str(m) for m in raw_masks(tree))
            roots.append(Root(str(tree), str(tree), deep=False, skip=masked))
    if system:
        from sandbox.backends.bwrap import ETC_FILES

        roots += [Root(t, t, deep=False) for t in SYSTEM_TREES if Path(t).is_dir() and not Path(t).is_symlink()]
        roots += [Root(f"/etc/{n}", f"/etc/{n}", deep=False) for n in ETC_FILES if Path(f"/etc/{n}").is_dir()]
    return roots


def private_prefixes(spec: SandboxSpec) -> tuple[str, ...]:
    """Where no symlink in the view may point: private trees, the operator's secrets, other workspaces, /proc."""
    private = [str(t) for t in forbidden_trees()] + [str(Path.home() / d) for d in SECRET_HOME_DIRS]
    workspace = spec.workspace.resolve()
    try:
        private += [str(p) for p in workspace.parent.iterdir() if p.is_dir() and p.resolve() != workspace]
    except OSError:
        pass
    return (*private, "/proc")


def scan_sandbox(spec: SandboxSpec, *, fingerprint: Fingerprint | None = None, tokens: Tokens | None = None,
                 max_bytes: int = 8 * 1024 * 1024, min_rows: int = 5, deep: bool = False, system: bool = True,
                 forbid: list[str] | None = None) -> dict[str, Any]:
    """The leak report of what `spec`'s sandbox can read (see `sandbox.leak_scan` for the checks)."""
    tokens = tokens or Tokens()
    own = {hashlib.sha256(v.encode()).hexdigest() for v in (spec.token, spec.api_key) if v}
    tokens = Tokens(tokens.own | own, tokens.other, tokens.prefixes)
    roots = view(spec, system=system)
    if deep:
        roots = [Root(r.host, r.shown, True, r.skip) for r in roots]
    scanner = Scanner(fingerprint, tokens, list(forbid or []), max_bytes, min_rows, private=private_prefixes(spec))
    try:
        check_policy([Path(r.host) for r in roots if not r.host.startswith(SYSTEM_TREES + ("/etc/",))])
    except SandboxPolicyError as exc:
        scanner.report("forbidden_path", "(binds)", str(exc))
    started = time.monotonic()
    scanner.scan(list(roots), env=spec.environment())
    return scanner.result([r.shown for r in roots], time.monotonic() - started)
