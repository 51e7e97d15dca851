"""bubblewrap: filesystem, user and network isolation on hosts without a Docker engine.

The sandbox's root is an empty tmpfs; only what is listed here is bound into it: /usr (and the /lib, /lib64, /bin
links or dirs), a few /etc files (TLS roots, resolver, hosts; passwd and group synthesized), the Python install and
the venv at their own paths (their scripts carry absolute shebangs), the public data, models and artifacts
read-only under /w2s, the code dirs under /w2s/src, the workspace read-write (bwrap mounts binds nosuid,nodev).
New user (uid 1000 inside, no capabilities, no nested user namespaces), mount, pid, ipc, uts, cgroup and network
namespaces; the host's /tmp, home, W2S_HOME/private and every other path simply do not exist inside.

Host user: bwrap maps the inside uid onto whoever starts it. When the operator is root it is started as the
unprivileged `w2s-agent` user (sandbox._user), through `_launch.py`, which stages the bind sources at neutral
paths in a private mount namespace first (the sources may lie below 0700 folders such as /root).

Network: the sandbox has only `lo`. Each endpoint of `server_urls` and `egress` (host loopback only) answers
inside at its own address through a relay (sandbox/_relay.py inside, sandbox/_egress.py on the host); nothing else
is reachable. Memory and CPU are not limited (core dumps off, open files capped); run under a cgroup for those.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

from sandbox._backend import Backend, register
from sandbox._egress import INSIDE_NET, HostRelay, loopback_endpoints
from sandbox._process import ProcessHandle
from sandbox._spec import INSIDE_WORKSPACE, SandboxPolicyError, SandboxSpec, check_policy, raw_masks
from sandbox._user import ensure_agent_user, prepare_workspace

AGENT_UID = 1000
LAUNCHER = Path(__file__).resolve().parent.parent / "_launch.py"
# Minimal /etc: TLS roots for the model API, name resolution, the loader cache. Never /etc wholesale: it can hold
# the operator's credentials (e.g. /etc/docker, netrc-like files, service configs).
ETC_FILES: tuple[str, ...] = ("ssl", "ca-certificates", "ca-certificates.conf", "pki", "resolv.conf", "hosts",
                              "nsswitch.conf", "host.conf", "gai.conf", "localtime", "ld.so.cache", "ld.so.conf",
                              "ld.so.conf.d", "alternatives", "mime.types")
PASSWD = f"root:x:0:0:root:/nonexistent:/usr/sbin/nologin\nagent:x:{AGENT_UID}:{AGENT_UID}:agent:{INSIDE_WORKSPACE}" \
         "/.home:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
GROUP = f"root:x:0:\nagent:x:{AGENT_UID}:\nnogroup:x:65534:\n"
SYSTEM_PREFIXES = ("/usr/", "/etc/", "/lib", "/bin/", "/sbin/", "/dev/", "/sys/")
"""Bind sources every user can reach: never staged."""


def _host_user() -> tuple[int, int] | None:
    """(uid, gid) to start bwrap as; None: as the operator, who is not root."""
    return ensure_agent_user() if os.geteuid() == 0 else None


@cache
def _probe(binary: str) -> str | None:
    """Run the namespaces this backend asks for once; kernels or AppArmor may forbid unprivileged ones."""
    argv = [binary, "--unshare-user", "--uid", str(AGENT_UID), "--gid", str(AGENT_UID), "--disable-userns",
            "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net", "--die-with-parent",
            "--cap-drop", "ALL", *_system_binds(), "--proc", "/proc", "--dev", "/dev", "--", "/usr/bin/env", "true"]
    user = _host_user()
    extra = {"user": user[0], "group": user[1], "extra_groups": []} if user else {}
    try:
        done = subprocess.run(argv, capture_output=True, timeout=20, check=False, **extra)  # type: ignore[call-overload]
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap failed to start: {exc}"
    if done.returncode != 0:
        return (f"bwrap cannot create its namespaces here as uid {user[0] if user else os.getuid()} "
                f"({done.stderr.decode(errors='replace').strip()}); allow unprivileged user namespaces "
                "(sysctl kernel.unprivileged_userns_clone=1; on Ubuntu 24.04+ an AppArmor profile for bwrap)")
    return None


def _system_binds() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("lib", "lib64", "lib32", "bin", "sbin"):
        host = Path("/") / name
        if host.is_symlink():  # merged-/usr systems: recreate the link instead of binding twice
            args += ["--symlink", os.readlink(host), str(host)]
        elif host.is_dir():
            args += ["--ro-bind", str(host), str(host)]
    return args


class _Stager:
    """Bind sources the agent user cannot reach are staged under `stage` by the launcher; the rest stay put."""

    def __init__(self, stage: Path | None) -> None:
        self.stage = stage
        self.mounts: list[tuple[str, str]] = []

    def source(self, path: Path) -> str:
        text = str(path)
        if self.stage is None or text.startswith(SYSTEM_PREFIXES):
            return text
        name = str(len(self.mounts))
        self.mounts.append((text, name))
        return str(self.stage / name)


@register("bwrap")
class BwrapBackend(Backend):
    def __init__(self, binary: str | None = None) -> None:
        self.binary = binary or shutil.which("bwrap") or "bwrap"

    def available(self) -> str | None:
        if not shutil.which(self.binary):
            return "the `bwrap` binary is not installed (apt-get install -y bubblewrap)"
        return _probe(self.binary)

    def argv(self, spec: SandboxSpec, runtime_dir: Path, stager: _Stager | None = None,
             relay: HostRelay | None = None) -> list[str]:
        """The whole bwrap command line (the order matters: tmpfs before binds below it, clearenv before setenv)."""
        stager = stager or _Stager(None)
        src = stager.source
        args = [self.binary, "--unshare-user", "--uid", str(AGENT_UID), "--gid", str(AGENT_UID), "--disable-userns",
                "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--unshare-net",
                "--hostname", f"w2s-{spec.agent_id}"[:63], "--die-with-parent", "--new-session", "--cap-drop", "ALL",
                *_system_binds(), "--proc", "/proc", "--dev", "/dev",
                "--size", str(spec.limits.tmp_mb * 1024 * 1024), "--tmpfs", "/tmp"]
        for name in ETC_FILES:
            args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        args += ["--ro-bind", src(runtime_dir / "passwd"), "/etc/passwd",
                 "--ro-bind", src(runtime_dir / "group"), "/etc/group"]
        for tree in self._interpreter_trees(spec):
            args += ["--ro-bind", src(tree), str(tree)]
            for mask in raw_masks(tree):  # an empty read-only tmpfs over labeled raw corpora in the venv
                args += ["--tmpfs", str(mask), "--remount-ro", str(mask)]
        for source, dst in spec.read_only_binds():
            args += ["--ro-bind", src(source.resolve()), str(dst)]
        args += ["--bind", src(spec.workspace.resolve()), str(INSIDE_WORKSPACE)]
        if relay is not None:
            args += ["--ro-bind", src(relay.folder), str(INSIDE_NET)]
        args += self._gpu_args(spec)
        args += ["--clearenv"]
        venv = spec.venv.resolve() if spec.venv else None
        for key, value in spec.environment(inside_venv=venv).items():
            args += ["--setenv", key, value]
        command = relay.relay_argv(self._inside_python(spec), spec.command) if relay else list(spec.command)
        args += ["--chdir", str(spec.inside_cwd()), "--", *command]
        return args

    @staticmethod
    def _inside_python(spec: SandboxSpec) -> str:
        for candidate in (spec.python_prefix.resolve() / "bin" / "python3", Path("/usr/bin/python3")):
            if candidate.exists():
                return str(candidate)
        raise SandboxPolicyError(f"no python3 under {spec.python_prefix} or /usr/bin to run the egress relay")

    @staticmethod
    def _interpreter_trees(spec: SandboxSpec) -> list[Path]:
        trees = [spec.python_prefix.resolve()] + ([spec.venv.resolve()] if spec.venv else [])
        return [t for t in dict.fromkeys(trees) if not t.is_relative_to("/usr")]  # /usr is bound already

    @staticmethod
    def _gpu_args(spec: SandboxSpec) -> list[str]:
        if not spec.gpu:
            return []
        devices = sorted(glob.glob("/dev/nvidia*")) + sorted(glob.glob("/dev/dri/*"))
        # With a device list, CUDA_VISIBLE_DEVICES (set by the spec) narrows what frameworks use; nodes stay bound.
        args: list[str] = []
        for dev in devices:
            args += ["--dev-bind", dev, dev]
        # The driver exposes its version and topology under /sys and /proc/driver; nothing there holds labels.
        return args + ["--ro-bind-try", "/sys", "/sys"]

    def start(self, spec: SandboxSpec, *, stdin: bytes | None = None) -> ProcessHandle:
        runtime_dir, relay, process = self._launch(spec, stdin=stdin, terminal=False)
        return ProcessHandle(process, spec.agent_id, self.name, runtime_dir, stdin,
                             on_close=relay.close if relay else None)

    def run_interactive(self, spec: SandboxSpec) -> int:
        """The sandbox on the operator's terminal (stdin, stdout, stderr inherited), e.g. `orchestrator shell`;
        same user, binds and network as `start`. Returns the exit status once it ends."""
        runtime_dir, relay, process = self._launch(spec, stdin=None, terminal=True)
        try:
            return process.wait()
        finally:
            if relay is not None:
                relay.close()
            shutil.rmtree(runtime_dir, ignore_errors=True)

    def _launch(self, spec: SandboxSpec, *, stdin: bytes | None, terminal: bool
                ) -> tuple[Path, HostRelay | None, subprocess.Popen[bytes]]:
        endpoints = loopback_endpoints(spec.endpoints())
        user = _host_user()
        prepare_workspace(spec.workspace, owner=user)
        binds = [spec.workspace, *self._interpreter_trees(spec), *(src for src, _ in spec.read_only_binds())]
        check_policy(binds)
        runtime_dir = Path(tempfile.mkdtemp(prefix=f"w2s-bwrap-{spec.agent_id}-"))
        relay: HostRelay | None = None
        try:
            runtime_dir.chmod(0o711)  # the agent user traverses it to reach the staged binds, lists nothing
            (runtime_dir / "passwd").write_text(PASSWD)
            (runtime_dir / "group").write_text(GROUP)
            if user is not None:
                (runtime_dir / "stage").mkdir(mode=0o755)
            stager = _Stager(runtime_dir / "stage" if user is not None else None)
            relay = HostRelay(runtime_dir / "net", endpoints, user) if endpoints else None
            argv = self.argv(spec, runtime_dir, stager, relay)
            process = self._spawn(argv, runtime_dir, stager, user, stdin, terminal)
        except BaseException:
            if relay is not None:
                relay.close()
            shutil.rmtree(runtime_dir, ignore_errors=True)
            raise
        return runtime_dir, relay, process

    def _spawn(self, argv: list[str], runtime_dir: Path, stager: _Stager, user: tuple[int, int] | None,
               stdin: bytes | None, terminal: bool = False) -> subprocess.Popen[bytes]:
        # The arguments (token and API key among them) go through a file descriptor, not the command line, so
        # they never show in `ps` on the host.
        split = argv.index("--")  # bwrap reads options from --args; the command must stay on the real argv
        fds = [_memfd("w2s-bwrap-args", b"\0".join(a.encode() for a in argv[1:split]) + b"\0")]
        launch = [argv[0], "--args", str(fds[0]), *argv[split:]]
        if user is not None:
            plan = {"stage": str(stager.stage), "mounts": stager.mounts, "uid": user[0], "gid": user[1],
                    "argv": launch}
            fds.append(_memfd("w2s-launch", json.dumps(plan).encode()))
            launch = [sys.executable, "-I", str(LAUNCHER), str(fds[1])]
        try:
            if terminal:
                return subprocess.Popen([*_rlimit_prefix(), *launch], pass_fds=tuple(fds), env={"PATH": "/usr/bin:/bin"})
            stdin_arg = subprocess.PIPE if stdin is not None else subprocess.DEVNULL
            err = os.open(runtime_dir / "stderr", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                return subprocess.Popen([*_rlimit_prefix(), *launch], pass_fds=tuple(fds), stdin=stdin_arg,
                                        stdout=subprocess.PIPE, stderr=err, env={"PATH": "/usr/bin:/bin"})
            finally:
                os.close(err)
        finally:
            for fd in fds:
                os.close(fd)


def _memfd(name: str, data: bytes) -> int:
    """An anonymous in-memory file holding `data`, positioned at its start (never on disk, never in argv)."""
    fd = os.memfd_create(name, 0)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _rlimit_prefix() -> list[str]:
    """util-linux `prlimit` (not preexec_fn, unsafe in a threaded orchestrator): no core dumps (they would copy
    process memory into the workspace), bounded open files. No address-space limit: it breaks the claude CLI."""
    binary = shutil.which("prlimit")
    return [binary, "--core=0", "--nofile=8192:8192", "--"] if binary else []
