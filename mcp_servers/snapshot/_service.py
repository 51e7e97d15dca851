"""The snapshot logic, independent of MCP: upload (workspace or inline tar.gz), list, show, download.

Uploads are staged (copied and hashed) in full before anything reaches the object store or the database, so a
refused upload stores nothing. Downloads write only inside the caller's own workspace, through descriptors that
never follow a symlink.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict
from sqlalchemy import Engine, func
from sqlmodel import select

from mcp_servers.core import (
    IdempotencyKeys,
    Identity,
    RefusedError,
    ServerSettings,
    TokenStore,
    read_session,
    request_sha256,
    write_session,
)
from mcp_servers.snapshot._findings_link import finding_exists
from mcp_servers.snapshot._fs import (
    IgnoreRules,
    Skipped,
    UnsafePath,
    clean_relpath,
    open_dir,
    open_file_nofollow,
    opened_root,
    read_ignore_file,
    scan,
    workspace_of,
    workspace_owner,
    write_file,
)
from mcp_servers.snapshot._models import (
    DownloadResult,
    SkippedPath,
    SnapshotDetail,
    SnapshotFile,
    SnapshotPage,
    SnapshotSummary,
    UploadResult,
)
from mcp_servers.snapshot._records import IdempotencyRow, SnapshotEntryRow, SnapshotRow, init_snapshot_db
from mcp_servers.snapshot._s3store import open_store
from mcp_servers.snapshot._secrets import SecretFinder, secret_reason
from mcp_servers.snapshot._store import (
    CHUNK,
    ObjectStore,
    ServerDiskError,
    Staging,
    StoreLimitError,
)
from mcp_servers.snapshot._tarsafe import ArchiveLimits, ArchiveRefused, build_archive, decode_b64, stage_archive
from trainer import paths

MiB = 1024 * 1024
log = logging.getLogger(__name__)


class SnapshotError(RefusedError):
    """A refused request of the snapshot server."""


class SnapshotSettings(ServerSettings):
    """Snapshot keys: `W2S_SNAPSHOT_<KEY>` or the `[snapshot]` table of the settings file."""

    model_config = SettingsConfigDict(env_prefix="W2S_SNAPSHOT_", extra="ignore", populate_by_name=True)
    config_section = "snapshot"

    workspaces_dir: Path = Field(default_factory=lambda: paths().workspaces_dir,
                                 description="agent workspaces, <dir>/<agent>/ (a read-only mount is enough to upload)")
    store_dir: Path | None = Field(None, description="object store and staging (default <state_dir>/snapshots)")
    store_url: str | None = Field(None, description="s3://bucket/prefix: objects in S3-compatible storage (the `s3` "
                                  "extra; endpoint from the URL or the replica settings); staging stays in store_dir")
    findings_db: Path | None = Field(None, description="findings database (default <state_dir>/findings.db)")
    max_file_bytes: int = Field(20 * MiB, ge=1, description="larger files are skipped (model weights)")
    max_total_bytes: int = Field(512 * MiB, ge=1, description="most content bytes in one snapshot")
    max_files: int = Field(20_000, ge=1, description="most files and folders in one snapshot")
    inline_max_bytes: int = Field(8 * MiB, ge=1, description="largest inline tar.gz (after base64 decoding; its "
                                  "base64, 4/3 larger, must fit the core's max_request_bytes, 12 MiB)")
    download_inline_max_bytes: int = Field(16 * MiB, ge=1, description="largest snapshot sent back inline")
    ignore: list[str] = Field(default_factory=list, description="extra ignore patterns (gitignore-like)")
    max_page: int = Field(100, ge=1, le=1000)

    @property
    def store_root(self) -> Path:
        return self.store_dir or self.state_dir / "snapshots"

    @property
    def findings_db_path(self) -> Path:
        return self.findings_db or self.db_path("findings")


_KEYS = IdempotencyKeys(IdempotencyRow, "snapshot_id", SnapshotError, "upload",
                        used_for="another upload (snapshot {ref})")


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _summary(row: SnapshotRow) -> SnapshotSummary:
    return SnapshotSummary(id=int(row.id or 0), agent=row.agent, message=row.message, idea=row.idea,
                           finding_id=row.finding_id, created_at=_utc(row.created_at), source=row.source,
                           files=row.files, total_bytes=row.total_bytes)


class SnapshotService:
    def __init__(self, settings: SnapshotSettings, engine: Engine, store: ObjectStore | None = None,
                 tokens: TokenStore | None = None) -> None:
        self.settings, self.engine = settings, engine
        self.store: ObjectStore = store or open_store(settings.store_url, settings.store_root, settings)
        self.rules = IgnoreRules(settings.ignore)
        self.secrets = SecretFinder(tokens or TokenStore(settings.tokens_db))
        init_snapshot_db(engine)

    def workspace(self, agent: str) -> Path:
        ws = workspace_of(self.settings.workspaces_dir, agent)
        if not ws.is_dir() or ws.is_symlink():
            raise SnapshotError(f"no workspace of {agent} is mounted on the snapshot server",
                                "send your code inline as archive_b64 (a base64 tar.gz)")
        return ws

    # -- upload -----------------------------------------------------------------------------------------------
    def upload(self, who: Identity, message: str, idea: str | None = None, finding_id: int | None = None,
               archive_b64: str | None = None, idempotency_key: str | None = None) -> UploadResult:
        """Store a snapshot. With `idempotency_key`, a retry (same agent, key and arguments) answers the first
        result and stores nothing; the same key with other arguments is refused."""
        archive_sha = None if archive_b64 is None else hashlib.sha256(archive_b64.encode()).hexdigest()
        request = request_sha256([message, idea, finding_id, archive_sha])
        if (first := _KEYS.replay(self.engine, who.agent, idempotency_key, request, UploadResult)) is not None:
            return first
        try:
            return self._upload(who, message, idea, finding_id, archive_b64, idempotency_key, request)
        except ServerDiskError as exc:
            log.error("snapshot upload of %s failed on the server's disk: %s", who.agent, exc)
            what = "is full" if exc.disk_full else f"failed ({exc.error.strerror or 'I/O error'})"
            raise SnapshotError(f"the snapshot server's disk {what} while storing your upload: the fault is on the "
                                "server, not in your archive or workspace, and nothing was stored",
                                "retry later; the operator has to free space on the snapshot store") from None

    def _upload(self, who: Identity, message: str, idea: str | None, finding_id: int | None,
                archive_b64: str | None, key: str | None, request: str) -> UploadResult:
        if not message.strip():
            raise SnapshotError("empty message", "say in one line what this code is")
        if finding_id is not None and not finding_exists(self.settings.findings_db_path, finding_id):
            raise SnapshotError(f"no finding {finding_id}", "send an id from search_findings, or leave it out")
        s = self.settings
        staging = Staging(s.store_root / "staging")
        try:
            if archive_b64 is not None:
                source = "inline"
                try:
                    raw = decode_b64(archive_b64, s.inline_max_bytes)
                    skipped = stage_archive(raw, staging, ArchiveLimits(
                        s.inline_max_bytes, s.max_files, s.max_file_bytes, s.max_total_bytes), self.rules)
                except ArchiveRefused as exc:
                    raise SnapshotError(f"archive refused: {exc}", "send a plain tar.gz of regular files and "
                                        "folders with relative paths, within the size and count caps") from None
            else:
                source = "workspace"
                skipped = self._stage_workspace(self.workspace(who.agent), staging)
            self._refuse_secrets(who, staging)
            new_bytes = staging.commit(self.store)
            now = datetime.now(UTC)
            row = SnapshotRow(agent=who.agent, message=message.strip(), idea=idea, finding_id=finding_id,
                              created_at=now, source=source, files=len(staging.files),
                              dirs=len(staging.dirs), total_bytes=staging.total_bytes, new_bytes=new_bytes,
                              skipped_json=json.dumps([[k.path, k.reason] for k in skipped[:1000]]))
            with write_session(self.engine) as session:
                if key is not None and (first := _KEYS.first_answer(session, who.agent, key, request,
                                                                    UploadResult)) is not None:
                    return first  # a concurrent retry stored it meanwhile (its objects are shared, nothing doubles)
                session.add(row)
                session.flush()
                sid = int(row.id or 0)
                for d in staging.dirs:
                    session.add(SnapshotEntryRow(snapshot_id=sid, path=d, is_dir=True))
                for f in staging.files:
                    session.add(SnapshotEntryRow(snapshot_id=sid, path=f.path, sha256=f.digest, size=f.size,
                                                 executable=f.executable))
                result = UploadResult(
                    snapshot_id=sid, agent=who.agent, source=source, files=row.files, dirs=row.dirs,
                    total_bytes=row.total_bytes, new_bytes=new_bytes, deduplicated_bytes=row.total_bytes - new_bytes,
                    skipped=[SkippedPath(path=k.path, reason=k.reason) for k in skipped[:100]],
                    skipped_count=len(skipped))
                if key is not None:
                    _KEYS.record(session, who.agent, key, request, snapshot_id=sid,
                                 result_json=result.model_dump_json(), created_at=now)
        finally:
            staging.cleanup()
        return result

    def _refuse_secrets(self, who: Identity, staging: Staging) -> None:
        carried = self.secrets.carried((f.path, f.local) for f in staging.files)
        if carried:
            named = "; ".join(f"{c.path!r} carries {c.kind}" for c in carried[:10])
            more = f" (and {len(carried) - 10} more files)" if len(carried) > 10 else ""
            raise SnapshotError(f"upload refused, nothing stored: {named}{more}",
                                "take the secret out of the file or list the file in .snapshotignore; tokens "
                                "belong only in .mcp.json and the environment, which snapshots leave out")

    def _stage_workspace(self, ws: Path, staging: Staging) -> list[Skipped]:
        s = self.settings
        with opened_root(ws) as root:
            rules = self.rules.with_file(read_ignore_file(root))
            entries, skipped = scan(root, rules, s.max_file_bytes)
            if len(entries) > s.max_files:
                raise SnapshotError(f"your workspace holds {len(entries)} files and folders (cap {s.max_files})",
                                    "list bulky folders in .snapshotignore")
            total = sum(e.size for e in entries)
            if total > s.max_total_bytes:
                raise SnapshotError(f"your workspace holds {total} bytes to snapshot (cap {s.max_total_bytes})",
                                    "list data, outputs and checkpoints in .snapshotignore")
            for entry in entries:
                if entry.is_dir:
                    staging.add_dir(entry.path)
                    continue
                try:
                    with open_file_nofollow(root, entry.path) as fd, os.fdopen(os.dup(fd), "rb") as f:
                        staging.add_file(entry.path, f, entry.executable, s.max_file_bytes)
                except (OSError, UnsafePath, StoreLimitError):
                    skipped.append(Skipped(entry.path, "changed while being read"))
        return skipped

    # -- reads ------------------------------------------------------------------------------------------------
    def list(self, agent: str | None = None, idea: str | None = None, finding_id: int | None = None,
             offset: int = 0, limit: int = 20) -> SnapshotPage:
        limit, offset = max(1, min(limit, self.settings.max_page)), max(0, offset)
        query, count = select(SnapshotRow), select(func.count()).select_from(SnapshotRow)
        for column, value in ((SnapshotRow.agent, agent), (SnapshotRow.idea, idea),
                              (SnapshotRow.finding_id, finding_id)):
            if value is not None:
                query, count = query.where(column == value), count.where(column == value)
        with read_session(self.engine) as session:
            total = int(session.exec(count).one())
            rows = session.exec(query.order_by(SnapshotRow.id.desc()).offset(offset).limit(limit)).all()  # type: ignore[union-attr]
        end = offset + len(rows)
        return SnapshotPage(total=total, offset=offset, limit=limit, items=[_summary(r) for r in rows],
                            next_offset=end if end < total else None)

    def _load(self, snapshot_id: int) -> tuple[SnapshotRow, list[SnapshotEntryRow]]:
        with read_session(self.engine) as session:
            row = session.get(SnapshotRow, snapshot_id)
            if row is None:
                raise SnapshotError(f"no snapshot {snapshot_id}", "send an id from list_snapshots")
            entries = list(session.exec(select(SnapshotEntryRow).where(SnapshotEntryRow.snapshot_id == snapshot_id)
                                        .order_by(SnapshotEntryRow.id)).all())
        # Snapshots stored before the secret rules existed may hold credential files: never hand them out.
        return row, [e for e in entries if secret_reason(e.path, e.is_dir) is None]

    def detail(self, snapshot_id: int) -> SnapshotDetail:
        row, entries = self._load(snapshot_id)
        return SnapshotDetail(**_summary(row).model_dump(), entries_total=len(entries), entries=[
            SnapshotFile(path=e.path, is_dir=e.is_dir, size=e.size, executable=e.executable, sha256=e.sha256)
            for e in entries[:2000]])

    # -- download ---------------------------------------------------------------------------------------------
    def _chunks(self, digest: str) -> Iterator[bytes]:
        """The stored bytes of `digest`, verified against it as they stream."""
        check = hashlib.sha256()
        with self.store.open(digest) as source:
            while chunk := source.read(CHUNK):
                check.update(chunk)
                yield chunk
        if check.hexdigest() != digest:
            raise SnapshotError(f"stored object {digest[:12]} is corrupt", "tell the operator")

    def download(self, who: Identity, snapshot_id: int, into: str | None = None, overwrite: bool = False,
                 inline: bool = False) -> DownloadResult:
        _row, entries = self._load(snapshot_id)
        withheld = self._carrying_secrets([e for e in entries if not e.is_dir])
        files = [e for e in entries if not e.is_dir and e.sha256 not in withheld]
        dirs = [e.path for e in entries if e.is_dir]
        size = sum(e.size for e in files)
        if inline:
            if size > self.settings.download_inline_max_bytes:
                raise SnapshotError(f"snapshot {snapshot_id} holds {size} bytes, over the inline cap "
                                    f"{self.settings.download_inline_max_bytes}", "download it into your workspace")
            archive = build_archive([(e.path, e.size, e.executable, lambda d=e.sha256: self.store.open(d or ""))
                                     for e in files], dirs)
            return DownloadResult(snapshot_id=snapshot_id, files=len(files), dirs=len(dirs), bytes=size,
                                  archive_b64=base64.b64encode(archive).decode(),
                                  withheld=self._withheld(entries, withheld))
        try:
            target = clean_relpath(into or f"snapshots/{snapshot_id}", "into")
        except UnsafePath as exc:
            raise SnapshotError(str(exc), "send a relative folder inside your workspace, e.g. 'snapshots/7'") from None
        ws = self.workspace(who.agent)
        try:
            with opened_root(ws) as root:
                owner = workspace_owner(root)
                dest = open_dir(root, target, create=True, owner=owner)
                try:
                    if os.listdir(dest) and not overwrite:
                        raise SnapshotError(f"{target!r} in your workspace is not empty",
                                            "choose a new folder, or pass overwrite=true")
                    for d in dirs:
                        os.close(open_dir(dest, clean_relpath(d), create=True, owner=owner))
                    for e in files:
                        parent, _, name = clean_relpath(e.path).rpartition("/")
                        parent_fd = open_dir(dest, parent, create=True, owner=owner)
                        try:
                            write_file(parent_fd, name, self._chunks(e.sha256 or ""), e.executable, owner)
                        finally:
                            os.close(parent_fd)
                finally:
                    os.close(dest)
        except UnsafePath as exc:
            raise SnapshotError(str(exc), "send a folder that is inside your workspace and not reached through "
                                          "a symlink") from None
        except OSError as exc:
            raise SnapshotError(f"cannot write into your workspace ({exc.strerror})",
                                "pass inline=true to get the snapshot as a base64 tar.gz") from None
        return DownloadResult(snapshot_id=snapshot_id, into=target, files=len(files), dirs=len(dirs), bytes=size,
                              withheld=self._withheld(entries, withheld))

    def _carrying_secrets(self, files: list[SnapshotEntryRow]) -> dict[str, str]:
        """{sha256: kind} of the stored objects that carry a live token or key (snapshots from before the check)."""
        out: dict[str, str] = {}
        for digest in dict.fromkeys(e.sha256 or "" for e in files):
            try:
                source = self.store.open(digest)
            except FileNotFoundError:
                log.error("snapshot object %s is missing from the store", digest)
                raise SnapshotError(f"stored object {digest[:12]} of this snapshot is missing",
                                    "tell the operator (restore the object store)") from None
            with source:
                kind = self.secrets.carries(source)
            if kind:
                out[digest] = kind
        return out

    @staticmethod
    def _withheld(entries: list[SnapshotEntryRow], withheld: dict[str, str]) -> list[SkippedPath]:
        return [SkippedPath(path=e.path, reason=f"carries {withheld[e.sha256]}; withheld")
                for e in entries if not e.is_dir and e.sha256 in withheld]
