"""`w2s-admin`: every command that the docs and the sources tell someone to run exists, with the options they give
(for `w2s` and `orchestrator` as well), and `w2s-admin data manifest` answers for a dataset brought in with
`data prepare`, as for a built testbed."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import typer
from typer.main import get_command
from typer.testing import CliRunner

from mcp_servers.admin import app as admin_app
from orchestrator.cli import app as orchestrator_app
from trainer.cli import app as w2s_app

ROOT = Path(__file__).resolve().parents[2]
PROGRAMS: dict[str, typer.Typer] = {"w2s-admin": admin_app, "w2s": w2s_app, "orchestrator": orchestrator_app}
# A command as written to be run: inside a `code span`, on a line of a fenced block or after a shell prompt.
COMMAND = re.compile(r"(?:`|^\s*(?:\$ )?)(w2s-admin|w2s|orchestrator) ([^`\n]*)", re.MULTILINE)


def _texts() -> list[Path]:
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    sources = [p for folder in ("mcp_servers", "trainer", "orchestrator", "sandbox", "prompts", "scripts")
               for p in sorted((ROOT / folder).rglob("*")) if p.suffix in (".py", ".md", ".sh") and p.is_file()]
    return docs + sources


def _resolve(program: str, words: list[str]) -> tuple[Any, list[str], list[str]]:
    """(the command `words` reach, the words used, the rest); a group's unknown sub-command stops the walk."""
    command: Any = get_command(PROGRAMS[program])
    used: list[str] = []
    for word in words:
        if not hasattr(command, "list_commands"):
            break
        sub = command.get_command(None, word)
        if sub is None:
            break
        command, used = sub, [*used, word]
    return command, used, words[len(used):]


def _problems(text: str, where: str) -> list[str]:
    problems = []
    for match in COMMAND.finditer(text):
        program, words = match.group(1), match.group(2).split()
        command, used, rest = _resolve(program, words)
        if hasattr(command, "list_commands"):
            if rest and re.fullmatch(r"[a-z][a-z0-9-]*", rest[0]):
                problems.append(f"{where}: `{program} {' '.join(used + rest[:1])}`: no such command")
            continue
        options = {o for param in command.params for o in (*param.opts, *param.secondary_opts)}
        for word in rest:
            option = word.split("=")[0].rstrip(".,:;)")
            if option.startswith("--") and len(option) > 2 and option not in options:
                problems.append(f"{where}: `{program} {' '.join(used)}` has no option {option}")
    return problems


def test_every_command_the_docs_and_sources_name_exists() -> None:
    problems = [p for path in _texts() for p in _problems(path.read_text(errors="replace"), str(path.relative_to(ROOT)))]
    assert problems == []


def test_the_checker_finds_a_missing_command_and_a_missing_option() -> None:
    text = "run `w2s calibrate sentiment`, then `w2s-admin tokens mint alice --nope`; `w2s-admin data manifest x`"
    assert _problems(text, "t") == ["t: `w2s calibrate`: no such command",
                                    "t: `w2s-admin tokens mint` has no option --nope"]


def _labeled(folder: Path) -> Path:
    rows = [{"question": f"q{i}", "choice": str(i), "label": i % 3 == 0, "subset": "forum_posts"} for i in range(12)]
    (folder / "forum").mkdir(parents=True)
    for split in ("train_label", "train_unlabel", "test"):
        (folder / "forum" / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def test_manifest_of_a_prepared_dataset(w2s_home: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    prepared = runner.invoke(admin_app, ["data", "prepare", str(_labeled(tmp_path / "labeled"))])
    assert prepared.exit_code == 0, prepared.output
    shown = runner.invoke(admin_app, ["data", "manifest", "forum"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "prepared from forum" in shown.output and "forum_posts" in shown.output
    raw = runner.invoke(admin_app, ["data", "manifest", "forum", "--json"])
    assert raw.exit_code == 0, raw.output
    data = json.loads(raw.output)
    assert data["prepared_from"] == "forum" and data["splits"]["test"]["balance"]["forum_posts"]["rows"] == 12


def test_manifest_of_an_unknown_dataset_names_both_ways_in(w2s_home: Path) -> None:
    shown = CliRunner().invoke(admin_app, ["data", "manifest", "nothing-here"])
    assert shown.exit_code != 0
    assert "w2s-admin data build" in shown.output and "w2s-admin data prepare" in shown.output
