"""Snapshot objects in S3-compatible storage: moto's S3 server on a loopback port, real boto3, real snapshots."""

from __future__ import annotations

import hashlib
import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport

from mcp_servers.snapshot import ObjectStore, SnapshotSettings, build_server
from mcp_servers.snapshot._s3store import S3ObjectStore, S3StoreError, open_store
from mcp_servers.snapshot._store import FileObjectStore, ServerDiskError, Staging
from tests.mcp_servers.s3_server import S3Server, moto_server
from tests.mcp_servers.snapshot.snapshot_helpers import SEnv, make_workspace, running, tree_of


@pytest.fixture(scope="module")
def moto() -> Iterator[S3Server]:
    with moto_server() as server:
        yield server


@pytest.fixture
def s3(moto: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    for name, value in moto.replica_env("snap").items():
        if not name.startswith("W2S_"):
            monkeypatch.setenv(name, value)  # the operator's credentials
    return moto


def _store(s3: S3Server, prefix: str = "p") -> S3ObjectStore:
    return S3ObjectStore(s3.bucket, prefix, endpoint=s3.endpoint, region=s3.region, force_path_style=True)


def test_put_exists_open_delete_deduplicate(tmp_path: Path, s3: S3Server) -> None:
    store = _store(s3)
    assert isinstance(store, ObjectStore)
    staging = Staging(tmp_path / "staging")
    for name in ("a", "b"):
        staging.add_file(name, io.BytesIO(b"same bytes"), executable=False, limit=100)
    staging.add_file("c", io.BytesIO(b"other"), executable=False, limit=100)
    assert staging.commit(store) == len(b"same bytes") + len(b"other")
    assert not any(f.local.exists() for f in staging.files)  # consumed: nothing stays on the local disk
    staging.cleanup()
    digest = hashlib.sha256(b"same bytes").hexdigest()
    keys = sorted(o["Key"] for o in s3.client().list_objects_v2(Bucket=s3.bucket, Prefix="p/")["Contents"])
    assert f"p/objects/{digest[:2]}/{digest[2:]}" in keys and len(keys) == 2
    with store.open(digest) as body:
        assert body.read() == b"same bytes"
    store.delete(digest)
    assert not store.exists(digest)
    with pytest.raises(FileNotFoundError):
        store.open(digest)
    with pytest.raises(ValueError, match="sha256"):
        store.key("../../etc/passwd")


def test_unreachable_store_is_the_servers_fault(tmp_path: Path, s3: S3Server) -> None:
    gone = S3ObjectStore("no-such-bucket", "p", endpoint=s3.endpoint, region=s3.region, force_path_style=True)
    source = tmp_path / "f"
    source.write_bytes(b"x")
    with pytest.raises(ServerDiskError, match="no-such-bucket"):
        gone.put(hashlib.sha256(b"x").hexdigest(), source)
    assert source.exists()  # nothing consumed when the upload failed


def test_selected_by_the_store_url_setting(tmp_path: Path, s3: S3Server) -> None:
    settings = SnapshotSettings(replica_endpoint=s3.endpoint, replica_region=s3.region,
                                replica_force_path_style=True, store_url=f"s3://{s3.bucket}/blobs")
    store = open_store(settings.store_url, tmp_path / "root", settings)
    assert isinstance(store, S3ObjectStore) and store.prefix == "blobs"
    assert store.client.meta.endpoint_url == s3.endpoint
    assert isinstance(open_store(None, tmp_path / "root"), FileObjectStore)
    query = S3ObjectStore.from_url(f"s3://{s3.bucket}/x?endpoint={s3.endpoint}&forcePathStyle=true")
    assert query.client.meta.endpoint_url == s3.endpoint
    for bad in ("file:///tmp/x", "s3://key:secret@bucket/p"):
        with pytest.raises(S3StoreError):
            S3ObjectStore.from_url(bad)


async def test_snapshot_server_keeps_blobs_in_s3_and_restores_them(senv: SEnv, s3: S3Server,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("W2S_SNAPSHOT_STORE_URL", f"s3://{s3.bucket}/blobs?endpoint={s3.endpoint}&forcePathStyle=true")
    expected = make_workspace(senv.ws("alice"))
    app = build_server()
    async with running(app.http_app()) as url:
        transport = StreamableHttpTransport(f"{url}/mcp", headers={"Authorization": f"Bearer {senv.tokens['alice']}"})
        async with Client(transport) as alice:
            up = (await alice.call_tool("upload_snapshot", {"message": "to s3"})).structured_content
            local_objects = senv.settings.store_root / "objects"
            assert not local_objects.exists() or not any(p.is_file() for p in local_objects.rglob("*"))
            stored = s3.client().list_objects_v2(Bucket=s3.bucket, Prefix="blobs/objects/")["Contents"]
            assert len(stored) == len({v for v in expected.values() if v is not None})
            shutil.rmtree(senv.ws("alice"))
            senv.ws("alice").mkdir()
            await alice.call_tool("download_snapshot", {"snapshot_id": up["snapshot_id"], "into": "back"})
    assert tree_of(senv.ws("alice") / "back") == expected
