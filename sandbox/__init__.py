"""Sandboxes for agents: one interface, backends registered by name (bwrap, docker, k8s, none), and a leak scanner.

    from sandbox import SandboxSpec, get_backend
    backend = get_backend("auto")            # docker if an engine answers, else bwrap, else refuse
    handle = backend.start(SandboxSpec(agent_id="a1", workspace=ws, data_dir=..., token=..., command=[...]))
    for line in handle.lines(): ...
    handle.wait()

Agents run as an unprivileged host user (`ensure_agent_user`, `prepare_workspace`), in their own network namespace
(bwrap: only `server_urls` and `egress` endpoints reachable, at the same address). The leak scan runs on the host
over the sandbox's view (`scan_sandbox`); the fingerprint never enters a sandbox.

Nothing of the label store, the raw corpora, the server databases or the operator's home is bound into a
sandbox; `check_policy` refuses a spec whose binds would contain one.
"""

from sandbox._backend import (
    BACKENDS,
    Backend,
    NoSandboxError,
    RunResult,
    SandboxHandle,
    backend_names,
    get_backend,
    register,
)
from sandbox._spec import (
    INSIDE_ARTIFACTS,
    INSIDE_DATA,
    INSIDE_HOME,
    INSIDE_MODELS,
    INSIDE_WORKSPACE,
    ResourceLimits,
    SandboxPolicyError,
    SandboxSpec,
    check_policy,
)
from sandbox._user import AGENT_USER, AgentUserError, ensure_agent_user, prepare_workspace
from sandbox._view import scan_sandbox

__all__ = [
    "AGENT_USER",
    "BACKENDS",
    "INSIDE_ARTIFACTS",
    "INSIDE_DATA",
    "INSIDE_HOME",
    "INSIDE_MODELS",
    "INSIDE_WORKSPACE",
    "AgentUserError",
    "Backend",
    "NoSandboxError",
    "ResourceLimits",
    "RunResult",
    "SandboxHandle",
    "SandboxPolicyError",
    "SandboxSpec",
    "backend_names",
    "check_policy",
    "ensure_agent_user",
    "get_backend",
    "prepare_workspace",
    "register",
    "scan_sandbox",
]
