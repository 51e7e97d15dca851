"""Host-side syncer: keeps `<workspace>/shared_findings/` current in every agent workspace.

One `FindingsSyncer` serves many workspaces: each poll (default every second) it reads the findings changed since
its cursor (the database's change sequence; new findings, comments, votes and grader re-scores all advance it),
renders them once, and rewrites only the files whose content changed, atomically (temporary file + rename), plus
`INDEX.md`. Every `verify_every` seconds it also compares every file, repairing ones an agent edited or deleted.

Writes go through a directory descriptor opened with O_NOFOLLOW: an agent that replaces `shared_findings` (or a
file in it) with a symlink cannot make the syncer write outside its workspace.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import stat
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Self

from mcp_servers.core import create_sqlite_engine, replace_at
from mcp_servers.findings._models import FindingView
from mcp_servers.findings._render import INDEX_NAME, SHARED_DIR, finding_filename, render_finding, render_index
from mcp_servers.findings._service import FindingsService, FindingsSettings

log = logging.getLogger(__name__)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
_FINDING_FILE = re.compile(r"^\d{5,}-[a-z0-9-]*\.md$")


def open_shared_dir(workspace: Path) -> int:
    """A descriptor of `<workspace>/shared_findings` (created; a symlink or file in its place is replaced)."""
    root = os.open(workspace, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            info = os.stat(SHARED_DIR, dir_fd=root, follow_symlinks=False)
            if not stat.S_ISDIR(info.st_mode):
                log.warning("%s/%s is not a directory; replacing it", workspace, SHARED_DIR)
                os.unlink(SHARED_DIR, dir_fd=root)
                raise FileNotFoundError
        except FileNotFoundError:
            os.mkdir(SHARED_DIR, 0o755, dir_fd=root)
        return os.open(SHARED_DIR, _DIR_FLAGS, dir_fd=root)
    finally:
        os.close(root)


def write_if_changed(dir_fd: int, name: str, data: bytes) -> bool:
    """Atomically replace `name` in `dir_fd` with `data` unless it already holds exactly that; True if written."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dir_fd)
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode) and os.read(fd, len(data) + 1) == data:
                return False
        finally:
            os.close(fd)
    except OSError:
        pass  # missing, a symlink (ELOOP) or unreadable: replace it
    replace_at(dir_fd, name, [data])
    return True


class FindingsSyncer:
    """Keeps `shared_findings/` current in a set of workspaces (thread-safe; `start()` runs it in a thread)."""

    def __init__(self, workspaces: Iterable[Path | str] = (), settings: FindingsSettings | None = None,
                 interval: float = 1.0, verify_every: float = 30.0, service: FindingsService | None = None) -> None:
        self.settings = settings or FindingsSettings()
        self.interval, self.verify_every = interval, verify_every
        self._service = service
        self._lock = threading.Lock()
        self._workspaces: dict[Path, bool] = {}
        """workspace -> needs a full write at the next poll."""
        self._views: dict[int, FindingView] = {}
        self._files: dict[int, tuple[str, bytes]] = {}
        self._cursor = 0
        self._own_service = False
        self._db_file: tuple[int, int] | None = None
        """(device, inode) of the database the service reads, to notice a restore that replaced the file."""
        self._last_verify = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        for workspace in workspaces:
            self.add_workspace(workspace)

    @property
    def service(self) -> FindingsService:
        if self._service is None:
            self._db_file = self._db_identity()
            engine = create_sqlite_engine(self.settings.db_path("findings"))
            self._service = FindingsService(self.settings, engine)
            self._own_service = True
        return self._service

    def _db_identity(self) -> tuple[int, int] | None:
        try:
            info = os.stat(self.settings.db_path("findings"))
        except OSError:
            return None
        return info.st_dev, info.st_ino

    def _follow_restore(self) -> None:
        """Start over when the database was restored: a replaced file (an open connection would keep reading the
        deleted one, freezing every workspace) or a change sequence that went back."""
        replaced = self._own_service and self._db_file is not None and self._db_identity() not in (None, self._db_file)
        if replaced and self._service is not None:
            log.warning("the findings database was replaced (restored?); reopening it and rewriting every workspace")
            self._service.engine.dispose()
            self._service = None
        elif self.service.max_seq() >= self._cursor:
            return
        else:
            log.warning("the findings change sequence went back (restored?); rewriting every workspace")
        self._cursor, self._views, self._files = 0, {}, {}
        with self._lock:
            for workspace in self._workspaces:
                self._workspaces[workspace] = True

    @property
    def workspaces(self) -> list[Path]:
        with self._lock:
            return list(self._workspaces)

    @property
    def cursor(self) -> int:
        return self._cursor

    def add_workspace(self, workspace: Path | str) -> None:
        """Sync this workspace too (everything is written to it at the next poll)."""
        with self._lock:
            self._workspaces[Path(workspace).resolve()] = True

    def remove_workspace(self, workspace: Path | str) -> None:
        with self._lock:
            self._workspaces.pop(Path(workspace).resolve(), None)

    def poll(self) -> dict[Path, int]:
        """One step: pull changes, write what changed; answers the number of files written per workspace."""
        self._follow_restore()
        try:
            self.service.refresh_grader()
        except Exception:
            log.exception("grader refresh failed")
        changed: set[int] = set()
        while True:
            page = self.service.export_since(self._cursor)
            for view in page.findings:
                self._views[view.id] = view
                self._files[view.id] = (finding_filename(view), render_finding(view).encode())
                changed.add(view.id)
            self._cursor = page.cursor
            if not page.more:
                break
        verify = time.monotonic() - self._last_verify >= self.verify_every
        if verify:
            self._last_verify = time.monotonic()
        with self._lock:
            targets = dict(self._workspaces)
            for workspace in targets:
                self._workspaces[workspace] = False
        index = render_index(self._views.values()).encode()
        written: dict[Path, int] = {}
        for workspace, full in targets.items():
            ids = self._files.keys() if full or verify else changed
            try:
                written[workspace] = self._write(workspace, ids, index, prune=full or verify)
            except OSError as exc:
                log.warning("cannot sync %s: %s", workspace, exc)
                with self._lock:
                    if workspace in self._workspaces:
                        self._workspaces[workspace] = True  # retry everything next time
        return written

    def _write(self, workspace: Path, ids: Iterable[int], index: bytes, prune: bool = False) -> int:
        dir_fd = open_shared_dir(workspace)
        try:
            count = sum(write_if_changed(dir_fd, *self._files[fid]) for fid in ids)
            if prune:  # findings a restore took back (or files an agent added) leave the folder
                keep = {name for name, _ in self._files.values()}
                for name in os.listdir(dir_fd):
                    if _FINDING_FILE.match(name) and name not in keep:
                        with contextlib.suppress(OSError):  # e.g. a folder an agent made under that name
                            os.unlink(name, dir_fd=dir_fd)
            return count + write_if_changed(dir_fd, INDEX_NAME, index)
        finally:
            os.close(dir_fd)

    def run_forever(self) -> None:
        """Poll every `interval` seconds until `stop()`."""
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.poll()
            except Exception:
                log.exception("findings sync failed")
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def start(self) -> Self:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self.run_forever, name="findings-sync", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def sync_workspace(workspace: Path | str, settings: FindingsSettings | None = None) -> int:
    """One full pass for one workspace (no thread); answers the number of files written."""
    syncer = FindingsSyncer([workspace], settings)
    return sum(syncer.poll().values())
