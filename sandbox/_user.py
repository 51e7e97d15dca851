"""The unprivileged host user sandboxes run as, and the workspaces it owns.

bubblewrap maps the sandbox's uid onto the uid that started it: started by root, every file an agent writes is
root's on the host, and a setuid bit set inside makes a setuid-root file. So when the operator is root, bwrap is
started as a dedicated system user (`w2s-agent`, created by scripts/setup.sh or lazily here) and the workspace is
owned by it; anything written inside is that user's, never root's.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import stat
import subprocess
import threading
from pathlib import Path

from sandbox._spec import check_policy

AGENT_USER = "w2s-agent"
_LOCK = threading.Lock()


class AgentUserError(RuntimeError):
    """The agent user could not be created or looked up; the message says how to create it by hand."""


def _lookup(name: str) -> tuple[int, int] | None:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


def ensure_agent_user(name: str = AGENT_USER) -> tuple[int, int]:
    """(uid, gid) sandboxes run as. Root: the `w2s-agent` system user, created when missing; anyone else: self.

    A non-root operator cannot switch users, and does not need to: bwrap then maps the sandbox onto that
    unprivileged uid already.
    """
    if os.geteuid() != 0:
        return os.getuid(), os.getgid()
    with _LOCK:
        found = _lookup(name)
        if found is not None:
            return found
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        argv = [useradd, "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                "--shell", "/usr/sbin/nologin", "--comment", "w2s-lab sandboxed agents", name]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        except OSError as exc:
            raise AgentUserError(f"cannot create the sandbox user {name!r} ({exc}); run scripts/setup.sh as root "
                                 f"or `useradd --system --user-group {name}`") from exc
        found = _lookup(name)
        if found is None:  # another process may have won the race; anything else is a real failure
            raise AgentUserError(f"cannot create the sandbox user {name!r}: {done.stderr.strip()}; run "
                                 f"`useradd --system --user-group --no-create-home {name}` as root")
        if found[0] == 0 or grp.getgrgid(found[1]).gr_gid == 0:
            raise AgentUserError(f"user {name!r} maps to uid/gid 0; sandboxes must never run as root")
        return found


def prepare_workspace(path: Path | str, owner: tuple[int, int] | None = None) -> Path:
    """Create the workspace (and its `.home`) owned by the sandbox user, mode 0700; return its resolved path.

    Refuses (SandboxPolicyError) a path that holds or lies in a private location, before touching anything.
    An existing workspace is re-owned without following links (an agent may have planted some), so files left by
    earlier root-run sandboxes become writable for the agent again; nothing outside the workspace is touched.
    """
    uid, gid = owner or ensure_agent_user()
    workspace = Path(path)
    if workspace.is_symlink():
        raise ValueError(f"workspace {workspace} is a symlink; give the real folder")
    workspace.mkdir(parents=True, exist_ok=True)
    workspace = workspace.resolve()
    # Before any chown: a "workspace" that holds W2S_HOME/private (or is a home) would hand it to the agent user.
    check_policy([workspace])
    fd = os.open(workspace, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        try:
            os.mkdir(".home", 0o700, dir_fd=fd)
        except FileExistsError:
            pass
        if os.geteuid() == 0:
            _chown_tree(fd, uid, gid)
        os.fchmod(fd, 0o700)
    finally:
        os.close(fd)
    return workspace


def _chown_tree(top_fd: int, uid: int, gid: int, depth: int = 0, max_depth: int = 256) -> None:
    """fchown every entry below an open directory; links are re-owned themselves, never followed.

    Recursion keeps at most one open descriptor per level (a wide tree never holds thousands at once)."""
    if depth == 0:
        os.fchown(top_fd, uid, gid)
    for entry in list(os.scandir(top_fd)):
        try:
            info = entry.stat(follow_symlinks=False)
            # A second hard link to a file that is not the agent's is someone else's file: never hand it over.
            foreign_link = not stat.S_ISDIR(info.st_mode) and info.st_nlink > 1
            if (info.st_uid, info.st_gid) != (uid, gid) and not foreign_link:
                os.chown(entry.name, uid, gid, dir_fd=top_fd, follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode) and depth < max_depth:
                child = os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=top_fd)
                try:
                    _chown_tree(child, uid, gid, depth + 1, max_depth)
                finally:
                    os.close(child)
        except OSError:
            continue  # vanished or replaced meanwhile: the agent's own doing, nothing of ours at stake
