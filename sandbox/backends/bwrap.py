"""bubblewrap: filesystem isolation on hosts without a Docker engine.

The sandbox's root is an empty tmpfs; only what is listed here is bound into it: /usr (and the /lib, /lib64, /bin
links or dirs), a few /etc files (TLS roots, resolver, hosts; passwd and group synthesized), the Python install and
the venv at their own paths (their scripts carry absolute shebangs), the public data, models and artifacts
read-only under /w2s, the trainer package under /w2s/src, the workspace read-write. New user (uid 1000, no
capabilities, no nested user namespaces), mount, pid, ipc, uts and cgroup namespaces; the host's /tmp, home,
W2S_HOME/private and every other path simply do not exist inside.

Limitation (documented in docs/sandbox.md): the network namespace is the host's, because agents must reach the
MCP servers on loopback and the model API; bwrap alone cannot filter egress. Memory and CPU limits are not
enforced (only file-size-free rlimits: core dumps off, open files capped); run under a cgroup for those.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

from sandbox._backend import Backend, register
from sandbox._process import ProcessHandle
from sandbox._spec import INSIDE_WORKSPACE, SandboxSpec, check_policy, raw_masks

AGENT_UID = 1000
# Minimal /etc: TLS roots for the model API, name resolution, the loader cache. Never /etc wholesale: it can hold
# the operator's credentials (e.g. /etc/docker, netrc-like files, service configs).
ETC_FILES: tuple[str, ...] = ("ssl", "ca-certificates", "ca-certificates.conf", "pki", "resolv.conf", "hosts",
                              "nsswitch.conf", "host.conf", "gai.conf", "localtime", "ld.so.cache", "ld.so.conf",
                              "ld.so.conf.d", "alternatives", "mime.types")
PASSWD = f"root:x:0:0:root:/nonexistent:/usr/sbin/nologin\nagent:x:{AGENT_UID}:{AGENT_UID}:agent:{INSIDE_WORKSPACE}" \
         "/.home:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
GROUP = f"root:x:0:\nagent:x:{AGENT_UID}:\nnogroup:x:65534:\n"


@cache
def _probe(binary: str) -> str | None:
    """Run the namespaces this backend asks for once; kernels or AppArmor may forbid unprivileged ones."""
    argv = [binary, "--unshare-user", "--uid", str(AGENT_UID), "--gid", str(AGENT_UID), "--disable-userns",
            "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent", "--cap-drop", "ALL",
            *_system_binds(), "--proc", "/proc", "--dev", "/dev", "--", "/usr/bin/env", "true"]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap failed to start: {exc}"
    if done.returncode != 0:
        return (f"bwrap cannot create its namespaces here ({done.stderr.decode(errors='replace').strip()}); on "
                "Ubuntu 24.04+ allow unprivileged user namespaces for bwrap (AppArmor)")
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


@register("bwrap")
class BwrapBackend(Backend):
    def __init__(self, binary: str | None = None) -> None:
        self.binary = binary or shutil.which("bwrap") or "bwrap"

    def available(self) -> str | None:
        if not shutil.which(self.binary):
            return "the `bwrap` binary is not installed (apt-get install -y bubblewrap)"
        return _probe(self.binary)

    def argv(self, spec: SandboxSpec, runtime_dir: Path) -> list[str]:
        """The whole bwrap command line (the order matters: tmpfs before binds below it, clearenv before setenv)."""
        args = [self.binary, "--unshare-user", "--uid", str(AGENT_UID), "--gid", str(AGENT_UID), "--disable-userns",
                "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
                "--hostname", f"w2s-{spec.agent_id}"[:63], "--die-with-parent", "--new-session", "--cap-drop", "ALL",
                *_system_binds(), "--proc", "/proc", "--dev", "/dev",
                "--size", str(spec.limits.tmp_mb * 1024 * 1024), "--tmpfs", "/tmp"]
        for name in ETC_FILES:
            args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        args += ["--ro-bind", str(runtime_dir / "passwd"), "/etc/passwd",
                 "--ro-bind", str(runtime_dir / "group"), "/etc/group"]
        for tree in self._interpreter_trees(spec):
            args += ["--ro-bind", str(tree), str(tree)]
            for mask in raw_masks(tree):  # an empty read-only tmpfs over labeled raw corpora in the venv
                args += ["--tmpfs", str(mask), "--remount-ro", str(mask)]
        for src, dst in spec.read_only_binds():
            args += ["--ro-bind", str(src.resolve()), str(dst)]
        args += ["--bind", str(spec.workspace.resolve()), str(INSIDE_WORKSPACE)]
        args += self._gpu_args(spec)
        args += ["--clearenv"]
        venv = spec.venv.resolve() if spec.venv else None
        for key, value in spec.environment(inside_venv=venv).items():
            args += ["--setenv", key, value]
        args += ["--chdir", str(spec.inside_cwd()), "--", *spec.command]
        return args

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
        spec.workspace.mkdir(parents=True, exist_ok=True)
        (spec.workspace / ".home").mkdir(exist_ok=True)
        binds = [spec.workspace, *self._interpreter_trees(spec), *(src for src, _ in spec.read_only_binds())]
        check_policy(binds)
        runtime_dir = Path(tempfile.mkdtemp(prefix=f"w2s-bwrap-{spec.agent_id}-"))
        (runtime_dir / "passwd").write_text(PASSWD)
        (runtime_dir / "group").write_text(GROUP)
        argv = self.argv(spec, runtime_dir)
        # The arguments (token and API key among them) go through a file descriptor, not the command line, so
        # they never show in `ps` on the host.
        args_file = runtime_dir / "args"
        split = argv.index("--")  # bwrap reads options from --args; the command must stay on the real argv
        args_file.write_bytes(b"\0".join(a.encode() for a in argv[1:split]) + b"\0")
        args_file.chmod(0o600)
        fd = os.open(args_file, os.O_RDONLY)
        args_file.unlink()
        stdin_arg = subprocess.PIPE if stdin is not None else subprocess.DEVNULL
        try:
            with (runtime_dir / "stderr").open("wb") as err:
                process = subprocess.Popen(
                    [*_rlimit_prefix(), argv[0], "--args", str(fd), *argv[split:]], pass_fds=(fd,), stdin=stdin_arg,
                    stdout=subprocess.PIPE, stderr=err, env={"PATH": "/usr/bin:/bin"},
                )
        finally:
            os.close(fd)
        return ProcessHandle(process, spec.agent_id, self.name, runtime_dir, stdin)


def _rlimit_prefix() -> list[str]:
    """util-linux `prlimit` (not preexec_fn, unsafe in a threaded orchestrator): no core dumps (they would copy
    process memory into the workspace), bounded open files. No address-space limit: it breaks the claude CLI."""
    binary = shutil.which("prlimit")
    return [binary, "--core=0", "--nofile=8192:8192", "--"] if binary else []
