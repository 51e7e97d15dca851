"""The host-side syncer: every workspace's shared_findings/ follows new findings, comments, votes and re-scores."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import yaml

from mcp_servers.core import Identity, create_sqlite_engine
from mcp_servers.findings import FindingsService, FindingsSyncer, sync_workspace
from mcp_servers.findings.sync import main as sync_main
from mcp_servers.grader._board import publish, score_private
from tests.mcp_servers.findings.findings_helpers import FEnv


def who(agent: str) -> Identity:
    return Identity(agent=agent, scopes=frozenset({"findings"}))


def service(fenv: FEnv) -> FindingsService:
    return FindingsService(fenv.settings, create_sqlite_engine(fenv.settings.db_path("findings")))


def front(path: Path) -> dict:  # type: ignore[type-arg]
    return yaml.safe_load(path.read_text().split("---\n")[1])


def wait_for(check: Callable[[], bool], timeout: float = 5.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if check():
                return time.monotonic() - started
        except (FileNotFoundError, IndexError):
            pass
        time.sleep(0.05)
    raise AssertionError("not synced in time")


def test_a_comment_reaches_every_synced_workspace(fenv: FEnv) -> None:
    svc = service(fenv)
    workspaces = [fenv.home / "workspaces" / a for a in ("alice", "bob", "carol")]
    for ws in workspaces:
        ws.mkdir(parents=True)
    sid = fenv.submit("alice", 0.8)
    fid = svc.post(who("alice"), "Self-training helps", "Two rounds.", "Body text.", "result", "st",
                   "self-training", [sid]).finding_id
    files = [ws / "shared_findings" / f"{fid:05d}-self-training-helps.md" for ws in workspaces]
    with FindingsSyncer(workspaces, fenv.settings, interval=0.25):
        wait_for(lambda: all(f.exists() for f in files))
        first = front(files[0])
        assert first["author"] == "alice" and first["type"] == "result" and first["family"] == "self-training"
        assert first["grader_verified"][0]["submission"] == sid and first["comments"] == 0
        assert "Self-training helps" in (workspaces[1] / "shared_findings" / "INDEX.md").read_text()

        svc.comment(who("bob"), fid, "Could not replicate on pref.")
        took = wait_for(lambda: all(front(f)["comments"] == 1 for f in files))
        assert all("Could not replicate on pref." in f.read_text() for f in files)
        print(f"\ncomment reached 3 workspaces in {took:.2f} s")

        svc.vote(who("carol"), fid, -1)
        wait_for(lambda: all(front(f)["votes"]["score"] == -1 for f in files))
        assert all("| -1 | 1 |" in (ws / "shared_findings" / "INDEX.md").read_text() for ws in workspaces)

        score_private(fenv.grader, "toy")  # the operator scores the private part and publishes it
        publish(fenv.grader, "toy", fenv.home / "published")
        wait_for(lambda: all("private_pgr" in front(f)["grader_verified"][0] for f in files))


def test_syncer_never_writes_through_symlinks(fenv: FEnv, tmp_path: Path) -> None:
    svc = service(fenv)
    fid = svc.post(who("alice"), "A finding", "s", "b", "insight", "i", "other").finding_id
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.md").write_text("keep me")
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "shared_findings").symlink_to(outside)  # the agent points the folder elsewhere
    assert sync_workspace(ws, fenv.settings) == 2
    assert not (ws / "shared_findings").is_symlink() and sorted(p.name for p in outside.iterdir()) == ["victim.md"]
    name = f"{fid:05d}-a-finding.md"
    (ws / "shared_findings" / name).unlink()
    (ws / "shared_findings" / name).symlink_to(outside / "victim.md")  # a file link: replaced, never followed
    assert sync_workspace(ws, fenv.settings) == 1
    assert (outside / "victim.md").read_text() == "keep me"
    assert not (ws / "shared_findings" / name).is_symlink() and front(ws / "shared_findings" / name)["id"] == fid


def test_unchanged_files_are_not_rewritten_and_edits_are_repaired(fenv: FEnv, tmp_path: Path) -> None:
    svc = service(fenv)
    svc.post(who("alice"), "Stable", "s", "b", "insight", "i", "other")
    ws = tmp_path / "ws"
    ws.mkdir()
    syncer = FindingsSyncer([ws], fenv.settings, verify_every=0.0)
    assert syncer.poll() == {ws.resolve(): 2}
    assert syncer.poll() == {ws.resolve(): 0}
    (ws / "shared_findings" / "00001-stable.md").write_text("vandalized")
    assert syncer.poll() == {ws.resolve(): 1}
    assert "vandalized" not in (ws / "shared_findings" / "00001-stable.md").read_text()
    late = tmp_path / "late"
    late.mkdir()
    syncer.add_workspace(late)  # a workspace added later gets everything at the next poll
    assert syncer.poll()[late.resolve()] == 2


def test_cli_once(fenv: FEnv, tmp_path: Path, capsys: object) -> None:
    service(fenv).post(who("bob"), "From the CLI", "s", "b", "hypothesis", "i", "curriculum")
    ws = tmp_path / "ws"
    ws.mkdir()
    assert sync_main(["--workspace", str(ws), "--once"]) == 0
    assert (ws / "shared_findings" / "00001-from-the-cli.md").exists()


def test_syncer_follows_a_restored_database(fenv: FEnv, tmp_path: Path) -> None:
    """Issue 17: after a restore replaced findings.db, the syncer kept reading the deleted file (workspaces froze)."""
    svc = service(fenv)
    for title in ("One", "Two"):
        svc.post(who("alice"), title, "s", "b", "insight", "i", "other")
    db = fenv.settings.db_path("findings")
    backup = tmp_path / "backup.db"
    with closing(sqlite3.connect(db)) as src, closing(sqlite3.connect(backup)) as dst:
        src.backup(dst)
    svc.post(who("alice"), "Three lost", "s", "b", "insight", "i", "other")  # after the backup: a restore loses it
    ws = tmp_path / "ws"
    ws.mkdir()
    syncer = FindingsSyncer([ws], fenv.settings)
    syncer.poll()
    shared = ws / "shared_findings"
    assert (shared / "00003-three-lost.md").exists()
    svc.engine.dispose()
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    os.replace(backup, db)  # the operator restores the database; the servers start again on it
    service(fenv).post(who("bob"), "After the restore", "s", "b", "insight", "i", "other")
    syncer.poll()
    names = sorted(p.name for p in shared.iterdir())
    assert names == ["00001-one.md", "00002-two.md", "00003-after-the-restore.md", "INDEX.md"]
    assert "Three lost" not in (shared / "INDEX.md").read_text()
    assert syncer.poll() == {ws.resolve(): 0}  # settled: nothing rewritten again
