"""Inline archives: a gzip bomb stops at the cap without being inflated in full; the archive round trip."""

from __future__ import annotations

import base64
import gzip
import io
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from mcp_servers.snapshot import IgnoreRules
from mcp_servers.snapshot._store import Staging
from mcp_servers.snapshot._tarsafe import ArchiveLimits, ArchiveRefused, build_archive, decode_b64, stage_archive

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


def test_tar_of_dot_and_wrapped_base64_are_normal_input(tmp_path: Path) -> None:
    """`tar czf - -C dir .` names its root "./" and every file "./x"; `base64` wraps lines at 76 columns."""
    source = tmp_path / "src"
    (source / "pkg").mkdir(parents=True)
    (source / "pkg" / "idea.py").write_text("LR = 1e-4\n")
    (source / "NOTEBOOK.md").write_text("# notes\n")
    archive = subprocess.run(["tar", "czf", "-", "-C", str(source), "."], capture_output=True, check=True).stdout
    wrapped = subprocess.run(["base64"], input=archive, capture_output=True, check=True).stdout.decode()
    assert "\n" in wrapped.strip()
    raw = decode_b64(wrapped, LIMITS.max_archive_bytes)
    assert raw == base64.b64decode("".join(wrapped.split()))
    staging = Staging(tmp_path / "staging")
    assert stage_archive(raw, staging, LIMITS, IgnoreRules()) == []
    assert sorted(f.path for f in staging.files) == ["NOTEBOOK.md", "pkg/idea.py"]
    with pytest.raises(ArchiveRefused, match="base64"):
        decode_b64("not base64 at all!", LIMITS.max_archive_bytes)
