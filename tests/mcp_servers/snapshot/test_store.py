"""The content-addressed object store and the staging area."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError

from mcp_servers.snapshot import FileObjectStore, ObjectStore, build_server
from mcp_servers.snapshot._store import ServerDiskError, Staging, StoreLimitError
from tests.mcp_servers.snapshot.snapshot_helpers import SEnv, member, tar_b64


def test_file_store_is_content_addressed_and_deduplicates(tmp_path: Path) -> None:
    store = FileObjectStore(tmp_path / "store")
    assert isinstance(store, ObjectStore)
    staging = Staging(tmp_path / "store" / "staging")
    for name in ("a", "b", "c"):
        staging.add_file(name, io.BytesIO(b"same bytes"), executable=False, limit=100)
    staging.add_file("d", io.BytesIO(b"other"), executable=True, limit=100)
    assert staging.commit(store) == len(b"same bytes") + len(b"other")
    staging.cleanup()
    digest = hashlib.sha256(b"same bytes").hexdigest()
    assert store.path(digest) == tmp_path / "store" / "objects" / digest[:2] / digest[2:]
    assert store.exists(digest) and store.open(digest).read() == b"same bytes"
    assert len([p for p in (tmp_path / "store" / "objects").rglob("*") if p.is_file()]) == 2
    store.delete(digest)
    assert not store.exists(digest)


def test_a_digest_with_a_trailing_newline_is_refused(tmp_path: Path) -> None:
    store = FileObjectStore(tmp_path / "store")
    with pytest.raises(ValueError, match="not a sha256"):
        store.path("a" * 64 + "\n")
    with pytest.raises(ValueError):
        store.path("../../etc/passwd")


def test_staging_refuses_growth_past_limit(tmp_path: Path) -> None:
    staging = Staging(tmp_path)
    with pytest.raises(StoreLimitError):
        staging.add_file("x", io.BytesIO(b"0" * 11), executable=False, limit=10)
    staging.cleanup()
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 128 KiB filesystem (tmpfs), so a write past it fails with ENOSPC as on a full disk."""
    point = tmp_path / "small-disk"
    point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128k,mode=0700", "tmpfs", str(point)],
                             capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)


def test_staging_on_a_full_disk_is_a_server_disk_error(small_disk: Path) -> None:
    staging = Staging(small_disk / "staging")
    with pytest.raises(ServerDiskError) as info:
        staging.add_file("big.bin", io.BytesIO(os.urandom(300_000)), executable=False, limit=1_000_000)
    assert info.value.disk_full and not isinstance(info.value, OSError)
    staging.cleanup()


async def test_full_disk_during_upload_names_the_disk(senv: SEnv, small_disk: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 17: a full disk during an upload was answered 'not a readable tar.gz archive', blaming the agent."""
    monkeypatch.setenv("W2S_SNAPSHOT_STORE_DIR", str(small_disk))
    app = build_server(local_token=senv.tokens["alice"])
    archive = tar_b64([(member(f"w{i}.bin"), os.urandom(90_000)) for i in range(3)])
    (senv.ws("alice") / "w.bin").write_bytes(os.urandom(190_000))
    async with Client(app.mcp) as client:
        for args in ({"archive_b64": archive}, {}):
            with pytest.raises(ToolError) as info:
                await client.call_tool("upload_snapshot", {"message": "m", **args})
            text = str(info.value)
            assert "snapshot server's disk is full" in text and "not in your archive" in text, text
            assert "readable" not in text and str(small_disk) not in text
        assert (await client.call_tool("list_snapshots", {})).structured_content["total"] == 0  # type: ignore[index]
    assert not any(small_disk.rglob("stage-*"))  # the partial staging was removed
