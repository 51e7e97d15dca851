"""A sandbox handle over a host subprocess (the bwrap and none backends)."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

from sandbox._backend import STDERR_TAIL_BYTES, SandboxHandle, stream_lines

PR_SET_CHILD_SUBREAPER = 36


@cache
def _become_subreaper() -> bool:
    """Orphans of our sandboxes come back to this process instead of init, so they can be found and killed."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


_HANDLED: set[int] = set()
"""Pids of the launchers our live handles wait for themselves (never reaped here: Popen needs their status)."""


def kill_orphaned_sandboxes() -> list[int]:
    """Kill (and reap) bubblewrap sandboxes whose launcher died before bwrap's --die-with-parent was armed: the
    sandbox's init (a session leader, reparented to us as the subreaper) would otherwise run on, holding the job's
    stdout open. Killing a pid namespace's init kills everything in it. Exited bwrap processes reparented to us
    (as the subreaper) are reaped too, so they do not pile up as zombies."""
    me, killed = os.getpid(), []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in _HANDLED:
            continue
        try:
            stat = (entry / "stat").read_text()
            comm = stat[stat.index("(") + 1:stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2:].split()
            state, ppid, session = fields[0], int(fields[1]), int(fields[3])
        except (OSError, ValueError, IndexError):
            continue
        if ppid != me or comm != "bwrap":
            continue
        pid = int(entry.name)
        try:
            if state != "Z":
                if session != pid:
                    continue  # an outer bwrap another part of this process started and still waits for
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
    return killed


class ProcessHandle(SandboxHandle):
    """Wraps the launcher process; its exit tears the sandbox down (bwrap: --die-with-parent and the pid ns, and
    for a launcher killed before bwrap armed it, `kill_orphaned_sandboxes` once the launcher is gone)."""

    def __init__(self, process: subprocess.Popen[bytes], agent_id: str, backend: str, runtime_dir: Path,
                 stdin: bytes | None, on_close: Callable[[], None] | None = None) -> None:
        self.process, self.agent_id, self.backend, self.runtime_dir = process, agent_id, backend, runtime_dir
        if backend == "bwrap" and _become_subreaper():
            _HANDLED.add(process.pid)
            threading.Thread(target=self._reap_orphans_after_exit, daemon=True).start()
        self._on_close = on_close
        self._stderr_path = runtime_dir / "stderr"
        if stdin is not None and process.stdin is not None:
            # A thread, so a large stdin (e.g. a fingerprint) cannot deadlock against an unread stdout.
            def feed() -> None:
                assert process.stdin is not None
                try:
                    process.stdin.write(stdin)
                    process.stdin.close()
                except BrokenPipeError:
                    pass

            threading.Thread(target=feed, daemon=True).start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _reap_orphans_after_exit(self) -> None:
        while self.process.poll() is None:
            time.sleep(0.5)
        _HANDLED.discard(self.process.pid)
        time.sleep(0.5)  # a sandbox whose --die-with-parent was armed is gone by now; what is left is orphaned
        kill_orphaned_sandboxes()

    def lines(self) -> Iterator[bytes]:
        assert self.process.stdout is not None
        yield from stream_lines(self.process.stdout)

    def stderr_text(self) -> bytes:
        try:
            with self._stderr_path.open("rb") as err:
                err.seek(max(0, os.fstat(err.fileno()).st_size - STDERR_TAIL_BYTES))
                return err.read(STDERR_TAIL_BYTES)
        except FileNotFoundError:
            return b""

    def poll(self) -> int | None:
        code = self.process.poll()
        if code is not None:
            self._cleanup()
        return code

    def wait(self, timeout: float | None = None) -> int:
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired as exc:
            raise TimeoutError(f"sandbox of {self.agent_id} still running after {timeout}s") from exc
        self._cleanup()
        return code

    def stop(self, grace_s: float = 10.0) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(grace_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        code = self.process.returncode
        self._cleanup()
        return code

    def _cleanup(self) -> None:
        if self._on_close is not None:  # e.g. the egress relay: its sockets live as long as the sandbox
            on_close, self._on_close = self._on_close, None
            on_close()
        # Keep stderr readable for the caller: copy it into memory before removing the runtime dir.
        if self.runtime_dir.exists():
            data = self.stderr_text()
            shutil.rmtree(self.runtime_dir, ignore_errors=True)
            self.stderr_text = lambda: data  # type: ignore[method-assign]
