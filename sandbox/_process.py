"""A sandbox handle over a host subprocess (the bwrap and none backends)."""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from sandbox._backend import SandboxHandle


class ProcessHandle(SandboxHandle):
    """Wraps the launcher process; its exit tears the sandbox down (bwrap: --die-with-parent and the pid ns)."""

    def __init__(self, process: subprocess.Popen[bytes], agent_id: str, backend: str, runtime_dir: Path,
                 stdin: bytes | None, on_close: Callable[[], None] | None = None) -> None:
        self.process, self.agent_id, self.backend, self.runtime_dir = process, agent_id, backend, runtime_dir
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

    def lines(self) -> Iterator[bytes]:
        assert self.process.stdout is not None
        yield from iter(self.process.stdout.readline, b"")

    def stderr_text(self) -> bytes:
        try:
            return self._stderr_path.read_bytes()
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
