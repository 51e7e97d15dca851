"""Inline archives: a gzip bomb stops at the cap without being inflated in full; the archive round trip."""

from __future__ import annotations

import gzip
import io
import tarfile
import time
from pathlib import Path

import pytest

from mcp_servers.snapshot import IgnoreRules
from mcp_servers.snapshot._store import Staging
from mcp_servers.snapshot._tarsafe import ArchiveLimits, ArchiveRefused, build_archive, stage_archive

LIMITS = ArchiveLimits(max_archive_bytes=1 << 20, max_files=100, max_file_bytes=1 << 20, max_total_bytes=4 << 20)


def test_gzip_bomb_is_refused_early(tmp_path: Path) -> None:
    """A pax header claiming 64 MiB (tarfile would read it into memory): zeros compress ~1000x."""
    header = tarfile.TarInfo("././@PaxHeader")
    header.type, header.size = tarfile.XHDTYPE, 64 << 20
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) as gz:
        gz.write(header.tobuf(tarfile.USTAR_FORMAT))
        for _ in range(64):
            gz.write(b"\0" * (1 << 20))
    assert len(raw.getvalue()) < LIMITS.max_archive_bytes
    started = time.monotonic()
    with pytest.raises(ArchiveRefused, match="tar bomb"):
        stage_archive(raw.getvalue(), Staging(tmp_path), LIMITS, IgnoreRules())
    assert time.monotonic() - started < 10


def test_build_then_stage_round_trip(tmp_path: Path) -> None:
    blobs = {"a/x.py": (b"x = 1\n", False), "run": (b"#!/bin/sh\n", True), "e": (b"", False)}
    archive = build_archive([(p, len(d), exe, lambda d=d: io.BytesIO(d)) for p, (d, exe) in blobs.items()], ["a"])
    staging = Staging(tmp_path)
    skipped = stage_archive(archive, staging, LIMITS, IgnoreRules(["*.log"]))
    assert skipped == [] and staging.dirs == ["a"]
    got = {f.path: (f.local.read_bytes(), f.executable) for f in staging.files}
    assert got == blobs
