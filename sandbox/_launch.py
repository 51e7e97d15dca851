"""Root-side launcher: stage the bind sources at neutral paths, drop to the agent user, exec bubblewrap.

Run by the bwrap backend as `python -I sandbox/_launch.py FD` when the operator is root (stdlib only, no imports
from the project: it runs before any privilege is dropped). bwrap started as the unprivileged agent user must
resolve every bind source itself, and the operator's Python install, W2S_HOME or workspaces may sit below a 0700
folder such as /root. So, in a private mount namespace that dies with this process, each source is bind-mounted
under a fresh tmpfs (`stage`, mode 0755), and bwrap binds from there. Nothing changes in the host's mounts and
no host folder's permissions are widened.

FD carries JSON: {"stage": dir, "mounts": [[source, name], ...], "uid": int, "gid": int, "argv": [...]}.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys

CLONE_NEWNS = 0x00020000
MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x1000, 0x4000, 0x40000


def _libc_call(name: str, *args: object) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if getattr(libc, name)(*args) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{name}{args!r}: {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = [None if v is None else v.encode() for v in (source, target, fstype, data)]
    _libc_call("mount", enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3])


def main(fd: int) -> None:
    with os.fdopen(fd, "rb") as handle:
        plan = json.loads(handle.read())
    uid, gid = int(plan["uid"]), int(plan["gid"])
    if uid == 0 or gid == 0:
        raise SystemExit("w2s launcher: refusing to run a sandbox as root")
    _libc_call("unshare", CLONE_NEWNS)
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing below propagates back to the host
    stage = plan["stage"]
    _mount("tmpfs", stage, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k")
    for source, name in plan["mounts"]:
        target = os.path.join(stage, name)
        if os.path.isdir(source):
            os.mkdir(target, 0o755)
        else:
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
        _mount(source, target, None, MS_BIND | MS_REC)
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.getuid() == 0 or os.geteuid() == 0:
        raise SystemExit("w2s launcher: could not drop root")
    argv = plan["argv"]
    os.execv(argv[0], argv)


if __name__ == "__main__":
    main(int(sys.argv[1]))
