"""`orchestrator dashboard` and `orchestrator report`, added to the orchestrator's typer app by `register`."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.dashboard._auth import TOKEN_ENV, is_loopback


def resolve_token(host: str, token_file: Path | None) -> str | None:
    """The token the dashboard requires: from --token-file or W2S_DASHBOARD_TOKEN; when bound beyond loopback
    without either, a fresh random one (`dashboard` saves it with `save_generated_token`, never prints it)."""
    token = None
    if token_file is not None:
        try:
            token = token_file.read_text().strip()
        except OSError as exc:
            raise typer.BadParameter(f"cannot read --token-file {token_file}: {exc.strerror}") from None
        if not token:
            raise typer.BadParameter(f"--token-file {token_file} is empty; put a long random token in it")
    token = token or os.environ.get(TOKEN_ENV, "").strip() or None
    if token is not None and len(token) < 16:
        raise typer.BadParameter("the dashboard token is shorter than 16 characters; use a long random one")
    if token is None and not is_loopback(host):
        token = secrets.token_urlsafe(32)
    return token


TOKEN_FILE = "dashboard.token"
"""Where a generated token is saved, in the orchestrator's state dir (only the file's path reaches the terminal)."""


def save_generated_token(state_dir: Path, token: str) -> Path:
    """Write `token` to `<state_dir>/dashboard.token`, readable by its owner only (0600 from the start, replaced
    atomically, a link at that name replaced rather than followed): logs and terminals keep only the path."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / TOKEN_FILE
    staged = state_dir / f".{TOKEN_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(token + "\n")
        os.replace(staged, path)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    return path


def dashboard(
    host: Annotated[str, typer.Option(help="bind address; beyond loopback every request must show the token")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to serve on")] = 8080,
    token_file: Annotated[Path | None, typer.Option(help="file holding the access token (else $W2S_DASHBOARD_TOKEN; "
                                                         "beyond loopback without either, a random one is saved to "
                                                         "<state dir>/dashboard.token, mode 0600)")]
    = None,
    poll: Annotated[float, typer.Option(help="seconds between the page's checks for new data")] = 2.0,
    state_dir: Annotated[Path | None, typer.Option(help="the operator state to read (default: W2S_STATE_DIR)")]
    = None,
    screenshot: Annotated[Path | None, typer.Option(help="write the page as a PNG (headless Chromium) and exit")]
    = None,
) -> None:
    """Serve the read-only research dashboard: leaderboards, PGR over time, idea diversity, findings, agents."""
    import uvicorn

    from orchestrator.dashboard._app import build_app
    from orchestrator.dashboard._sources import Sources

    if poll <= 0:
        raise typer.BadParameter("--poll must be positive")
    if screenshot is not None:
        from orchestrator.dashboard._shot import screenshot as take

        try:
            typer.echo(str(take(build_app(Sources.from_env(state_dir), poll_s=poll), screenshot)))
        except RuntimeError as exc:
            raise typer.BadParameter(str(exc), param_hint="--screenshot") from None
        return
    token = resolve_token(host, token_file)
    sources = Sources.from_env(state_dir)
    app = build_app(sources, token=token, poll_s=poll)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    address = f"http://{shown}:{port}/"
    note = ""
    if token is not None and token_file is None and not os.environ.get(TOKEN_ENV, "").strip():
        # A generated token goes to a 0600 file, never to stderr: terminals and service logs are often collected.
        try:
            saved = save_generated_token(sources.state_dir, token)
        except OSError as exc:
            raise typer.BadParameter(f"cannot save the generated token in {sources.state_dir} ({exc.strerror}); "
                                     "give one with --token-file or W2S_DASHBOARD_TOKEN") from None
        note = f" (token required; the generated token is in {saved})"
    elif token is not None:
        note = " (token required)"
    print(f"dashboard: open {address}{note}", file=sys.stderr, flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


def report(
    out: Annotated[Path, typer.Option(help="folder for the figures (PNG, SVG) and tables (Markdown, CSV)")]
    = Path("report"),
    dataset: Annotated[list[str] | None, typer.Option(help="datasets to include (default: every one)")] = None,
    state_dir: Annotated[Path | None, typer.Option(help="the operator state to read (default: W2S_STATE_DIR)")]
    = None,
) -> None:
    """Write the dashboard's figures and tables for a paper: PGR table (mean ± sem), PGR over time, method-family
    entropy, cost per agent."""
    from orchestrator.dashboard._report import write_report
    from orchestrator.dashboard._sources import Sources

    try:
        written = write_report(Sources.from_env(state_dir), out, dataset or None)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--dataset") from None
    for path in written:
        typer.echo(str(path))


def register(app: typer.Typer) -> None:
    """Add `dashboard` and `report` to the orchestrator CLI."""
    app.command()(dashboard)
    app.command()(report)
