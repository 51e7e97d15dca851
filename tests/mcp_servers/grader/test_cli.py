from __future__ import annotations

from typing import Any

from typer.testing import CliRunner

from mcp_servers.core import TokenStore, create_sqlite_engine
from mcp_servers.grader import read_calibration
from mcp_servers.grader._cli import grader_app
from mcp_servers.grader._service import Grader, GraderSettings


def test_operator_commands(env: Any) -> None:
    runner = CliRunner()
    out = runner.invoke(grader_app, ["calibration", "pref", "--weak-acc", "0.5", "--strong-acc", "0.7",
                                     "--seeds", "2", "--ood-weak", "0.4", "--ood-strong", "0.6"])
    assert out.exit_code == 0, out.output
    cal = read_calibration(env.settings.label_store, "pref")
    assert cal is not None and cal.seeds == 2 and "ood" in cal.slices
    assert '"weak_acc": 0.5' in runner.invoke(grader_app, ["calibration", "pref"]).stdout
    grader = Grader(GraderSettings(), create_sqlite_engine(env.settings.db_path("grader")))
    grader.submit(TokenStore(env.settings.tokens_db).verify(env.tokens["alice"]), "pref", [0.0] * 120)  # type: ignore[arg-type]
    assert "alice" in runner.invoke(grader_app, ["submissions", "pref"]).stdout
    assert runner.invoke(grader_app, ["score-private", "pref"]).exit_code == 0
    published = runner.invoke(grader_app, ["publish", "pref"])
    assert published.exit_code == 0 and published.stdout.strip().endswith(".json")


def test_agent_strings_render_as_text(env: Any) -> None:
    """An idea of `[/]` used to crash the audit view (rich markup); styling markup must show as typed."""
    grader = Grader(GraderSettings(), create_sqlite_engine(env.settings.db_path("grader")))
    who = TokenStore(env.settings.tokens_db).verify(env.tokens["alice"])
    grader.submit(who, "pref", [0.0] * 120, idea="[/]", note="[bold red]fake[/]")  # type: ignore[arg-type]
    grader.submit(who, "pref", [1.0] * 120, idea="[bold green]BEST[/bold green]")  # type: ignore[arg-type]
    runner = CliRunner()
    out = runner.invoke(grader_app, ["submissions", "pref"], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert "[/]" in out.stdout and "[bold green]BEST[/bold green]" in out.stdout
    agents = runner.invoke(grader_app, ["agents", "pref"], env={"COLUMNS": "200"})
    assert agents.exit_code == 0 and "alice" in agents.stdout


def test_markdown_board_escapes_agent_strings(env: Any) -> None:
    from mcp_servers.grader._markdown import md_text

    assert md_text("[/]") == r"\[/\]" and md_text("a|b\n# h") == r"a\|b \# h"
    assert md_text("<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert\\(1\\)&gt;"
    grader = Grader(GraderSettings(), create_sqlite_engine(env.settings.db_path("grader")))
    who = TokenStore(env.settings.tokens_db).verify(env.tokens["alice"])
    grader.submit(who, "pref", [0.0] * 120, idea="x | y\n| z | [link](http://e)")  # type: ignore[arg-type]
    out = CliRunner().invoke(grader_app, ["leaderboard", "pref", "--markdown"])
    assert out.exit_code == 0, out.output
    row = next(line for line in out.stdout.splitlines() if line.startswith("| alice"))
    assert row.count(" | ") == 8 and r"x \| y \| z \| \[link\]\(http://e\)" in row
