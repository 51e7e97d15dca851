"""The content-addressed object store and the staging area."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from mcp_servers.snapshot import FileObjectStore, ObjectStore
from mcp_servers.snapshot._store import Staging, StoreLimitError


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
    with pytest.raises(ValueError):
        store.path("../../etc/passwd")


def test_staging_refuses_growth_past_limit(tmp_path: Path) -> None:
    staging = Staging(tmp_path)
    with pytest.raises(StoreLimitError):
        staging.add_file("x", io.BytesIO(b"0" * 11), executable=False, limit=10)
    staging.cleanup()
    assert list(tmp_path.iterdir()) == []
