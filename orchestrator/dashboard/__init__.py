"""The research dashboard and paper report: `orchestrator dashboard` (a read-only local web page over the
grader, findings, snapshot, jobs and orchestrator databases) and `orchestrator report` (its figures and tables
as files). The orchestrator CLI calls `register(app)` to add both commands."""

from orchestrator.dashboard._cli import TOKEN_FILE, register, resolve_token, save_generated_token

__all__ = ["TOKEN_FILE", "register", "resolve_token", "save_generated_token"]
