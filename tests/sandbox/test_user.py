"""The sandbox's host user, attacked: files (setuid ones included) made inside are never root's on the host."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from sandbox import AGENT_USER, SandboxSpec, ensure_agent_user, prepare_workspace
from sandbox.backends.bwrap import BwrapBackend

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="the agent user is only switched to when run as root")

# Makes a setuid+setgid copy of /usr/bin/id and a device-free file, then reports what the kernel says about them.
ATTACK = """
import json, os, shutil, subprocess
shutil.copy('/usr/bin/id', 'suid-id')
os.chmod('suid-id', 0o6755)
open('plain.txt', 'w').write('x')
try:
    os.chown('plain.txt', 0, 0)
    chowned = True
except OSError:
    chowned = False
mount = [l.split() for l in open('/proc/self/mountinfo') if l.split()[4] == '/w2s/workspace'][0]
print(json.dumps({'uid': os.getuid(), 'chowned_to_root': chowned, 'mount_options': mount[5].split(','),
                  'suid_runs_as': subprocess.run(['./suid-id', '-u'], capture_output=True, text=True).stdout.strip(),
                  'mode': oct(os.stat('suid-id').st_mode)}))
"""


@root_only
@pytest.mark.bwrap
@pytest.mark.usefixtures("bwrap_ok")
def test_setuid_file_made_inside_is_not_setuid_root_on_the_host(fake_home) -> None:
    workspace = fake_home.paths.workspaces_dir / "suid"
    spec = SandboxSpec(agent_id="suid", workspace=workspace, command=["python", "-c", ATTACK])
    result = BwrapBackend().run(spec, timeout=60)
    assert result.returncode == 0, result.stderr
    inside = json.loads(result.stdout)
    assert {"nosuid", "nodev"} <= set(inside["mount_options"])
    assert inside["chowned_to_root"] is False and inside["suid_runs_as"] == "1000"
    uid, gid = ensure_agent_user()
    assert uid != 0 and gid != 0
    for name in ("suid-id", "plain.txt", ".home"):
        info = os.lstat(workspace / name)
        assert (info.st_uid, info.st_gid) == (uid, gid), name  # the agent user's, never root's
    host = os.lstat(workspace / "suid-id")
    assert not (host.st_mode & stat.S_ISUID and host.st_uid == 0)
    assert os.lstat(workspace).st_uid == uid and stat.S_IMODE(os.lstat(workspace).st_mode) == 0o700


@root_only
def test_agent_user_is_a_real_unprivileged_user() -> None:
    import pwd

    uid, gid = ensure_agent_user()
    entry = pwd.getpwnam(AGENT_USER)
    assert (entry.pw_uid, entry.pw_gid) == (uid, gid) and uid != 0
    assert ensure_agent_user() == (uid, gid)  # idempotent


@root_only
def test_prepare_workspace_reowns_without_following_links(tmp_path: Path) -> None:
    outside = tmp_path / "operator-file"
    outside.write_text("root's")
    workspace = tmp_path / "ws"
    (workspace / "runs" / "old").mkdir(parents=True)
    (workspace / "runs" / "old" / "log.txt").write_text("from a root-run sandbox")
    (workspace / "link").symlink_to(outside)
    (workspace / "runs" / "dirlink").symlink_to(tmp_path)
    os.link(outside, workspace / "hardlink")  # a root file hard-linked in must not be handed to the agent
    assert prepare_workspace(workspace) == workspace.resolve()
    uid, _ = ensure_agent_user()
    for path in (workspace, workspace / ".home", workspace / "runs" / "old" / "log.txt", workspace / "link"):
        assert os.lstat(path).st_uid == uid, path
    assert os.stat(outside).st_uid == 0 and os.stat(tmp_path).st_uid == 0  # link targets untouched


def test_prepare_workspace_refuses_a_symlinked_workspace(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "ws").symlink_to(tmp_path / "real")
    with pytest.raises(ValueError, match="symlink"):
        prepare_workspace(tmp_path / "ws")
