"""What a launch is asked for (`LaunchOptions`) and the checks that refuse one that cannot work, before anything
starts; the agents' names and the launch's id."""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator._proxy import DEFAULT_UPSTREAM
from orchestrator._remote import check_sandbox
from orchestrator._services import compute_env
from sandbox import SandboxSpec
from trainer import paths

ORCHESTRATOR_DIR = Path(__file__).resolve().parent


def agent_code_dirs() -> list[Path]:
    """What the sandbox binds under /w2s/src: the sandbox's defaults (trainer, sandbox) and the agent programs."""
    defaults = SandboxSpec.model_fields["code_dirs"].default_factory  # type: ignore[misc]
    return [*defaults(), ORCHESTRATOR_DIR]  # type: ignore[call-arg,misc]


class LaunchError(RuntimeError):
    """A launch that cannot start; the message says what to change."""


@dataclass
class LaunchOptions:
    n: int
    kind: str
    dataset: str
    duration_s: float | None
    budget_usd: float | None = None
    model: str | None = None
    sandbox: str = "auto"
    unsafe_no_sandbox: bool = False
    directions_file: Path | None = None
    base_port: int = 8101
    host: str = "127.0.0.1"
    max_restarts: int = 5
    max_turns: int | None = None
    seed: int = 0
    agent_cpus: float = 2.0
    agent_memory_mb: int = 16_384
    agent_args: list[str] = field(default_factory=list)
    """Extra arguments for the evolve agent program (its --population, --preset, ...)."""
    compute: str = "local"
    """Where compute jobs run: `local`, or a Ray cluster (`ray`, `ray:HOST:PORT`, `ray://HOST:PORT`)."""
    public_url: str | None = field(default_factory=lambda: os.environ.get("W2S_PUBLIC_URL") or None)
    """The trusted host's TLS reverse proxy (https://w2s.example.org): what agents on remote sandboxes (k8s, a
    remote docker engine) get as server URLs (`<public>/<server>/mcp`) instead of this host's loopback ones."""
    upstream: str = field(default_factory=lambda: os.environ.get("W2S_ANTHROPIC_UPSTREAM", DEFAULT_UPSTREAM))


def agent_names(kind: str, n: int) -> list[str]:
    return [f"{kind}{i + 1}" for i in range(n)]


def new_launch_id() -> str:
    return time.strftime("L%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def check_options(opts: LaunchOptions) -> None:
    """Refuse a launch that cannot work, before anything starts."""
    if opts.n < 1 or opts.n > 64:
        raise LaunchError(f"--n {opts.n}: give between 1 and 64 agents")
    if opts.kind not in ("claude", "evolve"):
        raise LaunchError(f"--agent {opts.kind!r}: choose claude or evolve")
    if opts.kind == "claude" and not os.environ.get("ANTHROPIC_API_KEY"):
        raise LaunchError("--agent claude needs ANTHROPIC_API_KEY in the operator's environment (it stays on the "
                          "host: agents get a key only their proxy accepts). Without a key, use --agent evolve")
    if opts.kind == "evolve" and not (ORCHESTRATOR_DIR / "agents" / "evolve" / "__main__.py").is_file():
        raise LaunchError("the offline evolve agent (orchestrator/agents/evolve) is not installed in this checkout")
    try:
        compute_env(opts.compute)
    except ValueError as exc:
        raise LaunchError(str(exc)) from None
    if opts.sandbox == "none" and not opts.unsafe_no_sandbox:
        raise LaunchError("--sandbox none runs agents where they can read the hidden labels; spell out "
                          "--unsafe-no-sandbox if that is really meant")
    if opts.sandbox not in ("auto", "none"):
        try:
            check_sandbox(opts.sandbox, opts.public_url)
        except ValueError as exc:
            raise LaunchError(str(exc)) from None
    test = paths().data_dir / opts.dataset / "test.jsonl"
    if not test.is_file():
        built = sorted(p.name for p in paths().data_dir.glob("*") if (p / "test.jsonl").is_file())
        raise LaunchError(f"unknown dataset {opts.dataset!r}; built: {', '.join(built) or 'none (run make setup)'}")
