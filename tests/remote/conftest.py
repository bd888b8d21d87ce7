"""A real S3-compatible server for the remote-tier tests: moto in server mode on a free
loopback port (started here, once per test process), a fresh bucket per test, dummy
credentials, and retries fast enough that a fault costs milliseconds, not minutes."""

from __future__ import annotations

import socket
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from termvault.archive import objects as remote_store
from termvault.vault import Vault

from .faults import FaultProxy


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def moto_port() -> Iterator[int]:
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield port
    server.stop()


@pytest.fixture(autouse=True)
def aws_env(monkeypatch):
    """Dummy credentials; nothing from the real environment or profile leaks in."""
    for var in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT",
        "AWS_ENDPOINT_URL",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_CONFIG_FILE",
        "AWS_DEFAULT_REGION",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setattr(
        remote_store,
        "POLICY",
        remote_store.RetryPolicy(
            attempts=3, backoff=0.05, max_backoff=0.2, request_retries=2, connect_timeout=1.0, read_timeout=2.0
        ),
    )


@pytest.fixture
def endpoint(moto_port) -> str:
    return f"http://127.0.0.1:{moto_port}"


@pytest.fixture
def bucket(endpoint) -> str:
    """A new, empty bucket on the server (moto keeps state for the whole process)."""
    name = f"tv-{uuid.uuid4().hex[:12]}"
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/{name}", method="PUT"), timeout=10).read()
    return name


@pytest.fixture
def proxy(moto_port) -> Iterator[FaultProxy]:
    p = FaultProxy(moto_port).start()
    yield p
    p.stop()


@pytest.fixture
def make_vault(endpoint, bucket):
    """``make_vault(home, host="alpha", via=None)``: a Vault whose remote is this test's
    bucket (through ``via``, a FaultProxy, if given); closed at the end of the test."""
    opened: list[Vault] = []

    def make(home: Path, host: str = "alpha", via: FaultProxy | None = None, **settings) -> Vault:
        v = Vault(
            home, remote=f"s3://{bucket}/tv", remote_endpoint=via.url if via else endpoint, remote_host=host, **settings
        )
        opened.append(v)
        return v

    yield make
    for v in opened:
        v.close()


@pytest.fixture
def objects(endpoint, bucket):
    """``objects()``: {key under the prefix: bytes} of everything in the bucket, read
    straight from the server (not through termvault)."""
    import obstore
    from obstore.store import S3Store

    store = S3Store(bucket, prefix="tv", endpoint=endpoint, client_options={"allow_http": True})

    def read() -> dict[str, bytes]:
        keys = [m["path"] for chunk in obstore.list(store) for m in chunk]
        return {k: bytes(obstore.get(store, k).bytes()) for k in keys}

    read.store = store
    return read
