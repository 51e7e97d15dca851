"""A real S3-compatible server for tests: moto's server (the `dev` extra) on a free loopback port."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest

from tests.mcp_servers.server_helpers import free_port

BUCKET = "w2s-replicas"
REGION = "us-east-1"


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    bucket: str = BUCKET
    region: str = REGION

    def client(self):  # type: ignore[no-untyped-def]
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name=self.region,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def replica_env(self, prefix: str = "run") -> dict[str, str]:
        """The operator's settings and credentials for replicas and snapshot blobs in this server's bucket."""
        return {"W2S_REPLICA_URL": f"s3://{self.bucket}/{prefix}", "W2S_REPLICA_ENDPOINT": self.endpoint,
                "W2S_REPLICA_REGION": self.region, "W2S_REPLICA_FORCE_PATH_STYLE": "true",
                "W2S_SNAPSHOT_STORE_URL": f"s3://{self.bucket}/{prefix}/blobs",
                "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": self.region}


@contextmanager
def moto_server(timeout: float = 30.0) -> Iterator[S3Server]:
    """`python -m moto.server` until the block ends; the bucket exists when it starts."""
    pytest.importorskip("moto.server", reason="moto[server] is in the dev extra: pip install -e '.[dev]'")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = S3Server(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                httpx.get(server.endpoint, timeout=0.5)
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)
        server.client().create_bucket(Bucket=server.bucket)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
