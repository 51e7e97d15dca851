"""Snapshot objects in S3-compatible storage (AWS S3, MinIO, R2, moto): the `ObjectStore` protocol over boto3.

Selected by the snapshot setting `store_url = "s3://bucket/prefix"` (W2S_SNAPSHOT_STORE_URL); objects live at
`<prefix>/objects/ab/cdef...` (sha256 of the content), so a fresh host that restores the snapshot database finds
every blob where the old host left it. The endpoint, region and path style come from the URL's query
(`?endpoint=http://host:9000&region=us-east-1&forcePathStyle=true`, as litestream reads them) or else from the
shared replica settings (W2S_REPLICA_ENDPOINT, ...), so one bucket serves databases and blobs. Credentials come from
the operator's AWS_* environment (boto3's default chain), never from a setting or a URL. Staging stays on the
local disk: a file reaches S3 only after it was hashed and checked in full.

boto3 is the optional extra `.[s3]`; it is imported when an S3 store is built, never at import time.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any, BinaryIO, cast
from urllib.parse import parse_qsl, urlsplit

from mcp_servers.core import ServerSettings
from mcp_servers.snapshot._store import FileObjectStore, ObjectStore, ServerDiskError, _check


class S3StoreError(RuntimeError):
    """The S3 store cannot be built (bad URL, boto3 missing); the message names the fix."""


class S3ObjectStore:
    """Objects as S3 keys `<prefix>/objects/ab/cdef...`; `put` uploads a staged file once, then removes it."""

    def __init__(self, bucket: str, prefix: str = "", *, endpoint: str | None = None, region: str | None = None,
                 force_path_style: bool = False, client: Any = None) -> None:
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.client = client or _client(endpoint, region, force_path_style)

    @classmethod
    def from_url(cls, url: str, defaults: ServerSettings | None = None) -> S3ObjectStore:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.hostname:
            raise S3StoreError(f"snapshot store_url must be s3://bucket/prefix, got {url!r}")
        if parts.username or parts.password:
            raise S3StoreError("snapshot store_url must not carry credentials; use the AWS_* environment")
        query = dict(parse_qsl(parts.query))
        style = query.get("forcePathStyle")
        return cls(parts.hostname, parts.path,
                   endpoint=query.get("endpoint") or (defaults.replica_endpoint if defaults else None),
                   region=query.get("region") or (defaults.replica_region if defaults else None),
                   force_path_style=style.lower() == "true" if style is not None
                   else bool(defaults and defaults.replica_force_path_style))

    def key(self, digest: str) -> str:
        digest = _check(digest)
        return "/".join(p for p in (self.prefix, "objects", digest[:2], digest[2:]) if p)

    def exists(self, digest: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(digest))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self._fault(exc, digest) from exc
        return True

    def put(self, digest: str, source: Path) -> bool:
        if self.exists(digest):
            source.unlink(missing_ok=True)
            return False
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import BotoCoreError, ClientError

        try:  # upload_file: multipart and retried for large blobs
            self.client.upload_file(str(source), self.bucket, self.key(digest))
        except (BotoCoreError, ClientError, S3UploadFailedError) as exc:
            raise self._fault(exc, digest) from exc
        source.unlink(missing_ok=True)
        return True

    def open(self, digest: str) -> BinaryIO:
        from botocore.exceptions import ClientError

        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.key(digest))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise FileNotFoundError(errno.ENOENT, "no such object", self.key(digest)) from None
            raise self._fault(exc, digest) from exc
        return cast(BinaryIO, answer["Body"])  # botocore's StreamingBody: read(), context manager

    def delete(self, digest: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.key(digest))

    def _fault(self, exc: Exception, digest: str) -> ServerDiskError:
        """The object store is the server's storage: its failures are the operator's, never the agent's."""
        return ServerDiskError(OSError(errno.EIO, f"S3 {type(exc).__name__}: {exc}"),
                               Path(f"s3:/{self.bucket}/{self.key(digest)}"))


def _client(endpoint: str | None, region: str | None, force_path_style: bool) -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:
        raise S3StoreError("the S3 snapshot store needs boto3: pip install 'w2s-lab[s3]'") from exc
    config = Config(s3={"addressing_style": "path" if force_path_style else "auto"},
                    retries={"max_attempts": 5, "mode": "standard"})
    return boto3.session.Session().client("s3", endpoint_url=endpoint, region_name=region, config=config)


def open_store(store_url: str | None, root: Path, defaults: ServerSettings | None = None) -> ObjectStore:
    """The store a snapshot setting selects: S3 for an s3:// URL, else files under `root`."""
    if store_url:
        return S3ObjectStore.from_url(store_url, defaults)
    return FileObjectStore(root)
