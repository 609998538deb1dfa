"""The S3 asset store against a real S3-compatible server (moto's, on loopback, in its own process)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from pydantic import ValidationError

from creativeloop.kit.assets import (
    AssetNotFound,
    FilesystemAssetStore,
    S3AssetStore,
    asset_store_from_settings,
)
from creativeloop.kit.settings import CommonSettings

pytestmark = pytest.mark.integration

BUCKET = "creativeloop-test"
# Dummy credentials: moto accepts any; set so boto3 never looks for real ones.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server process on a free loopback port, with `BUCKET` created."""
    port = _free_port()
    moto_server = Path(sys.executable).parent / "moto_server"
    proc = subprocess.Popen(
        [str(moto_server), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
                break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("moto_server did not start") from None
                time.sleep(0.1)
        with pytest.MonkeyPatch.context() as mp:
            for name, value in AWS_ENV.items():
                mp.setenv(name, value)
            boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=BUCKET)
            yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def client(s3_endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")


def _count_puts(client: Any) -> list[str]:
    """Record the key of every PutObject call `client` makes."""
    calls: list[str] = []
    client.meta.events.register(
        "before-call.s3.PutObject", lambda params, **_: calls.append(params["url_path"])
    )
    return calls


def test_put_get_round_trip(client: Any) -> None:
    store = S3AssetStore(BUCKET, "rt", client=client)
    content = os.urandom(2048)
    uri, digest = store.put(content, "image/png")
    assert uri == f"s3://{BUCKET}/rt/{digest[:2]}/{digest}.png"
    assert store.get(uri) == content
    head = client.head_object(Bucket=BUCKET, Key=f"rt/{digest[:2]}/{digest}.png")
    assert head["ContentType"] == "image/png"
    assert head["ContentLength"] == len(content)
    other_uri, _ = store.put(b"unknown type", "application/x-thing")
    assert other_uri.endswith(".bin")


def test_same_bytes_same_uri_and_one_upload(client: Any) -> None:
    puts = _count_puts(client)
    store = S3AssetStore(BUCKET, "idem", client=client)
    content = os.urandom(1024)
    first = store.put(content, "video/mp4")
    second = store.put(content, "video/mp4")
    assert first == second
    assert len(puts) == 1
    third = S3AssetStore(BUCKET, "idem", client=client).put(content, "video/mp4")  # another process
    assert third == first
    assert len(puts) == 1


def test_missing_key_is_asset_not_found(client: Any) -> None:
    store = S3AssetStore(BUCKET, "missing", client=client)
    uri = f"s3://{BUCKET}/missing/ab/{'ab' * 32}.png"
    with pytest.raises(AssetNotFound, match=uri):
        store.get(uri)
    with pytest.raises(AssetNotFound, match="outside"):
        store.get("s3://another-bucket/x.png")
    with pytest.raises(AssetNotFound, match="scheme"):
        store.get("https://example.com/x.png")
    with pytest.raises(AssetNotFound, match="scheme"):
        store.get((Path("/tmp") / "x.png").as_uri())  # no filesystem fallback given


def test_missing_bucket_is_not_hidden(client: Any) -> None:
    store = S3AssetStore("no-such-bucket", client=client)
    with pytest.raises(Exception) as info:
        store.get("s3://no-such-bucket/creativeloop/ab/cd.png")
    assert not isinstance(info.value, AssetNotFound)


def test_settings_pick_the_store(s3_endpoint: str, tmp_path: Path) -> None:
    assert isinstance(asset_store_from_settings(CommonSettings(asset_dir=tmp_path)), FilesystemAssetStore)
    common = CommonSettings(
        asset_dir=tmp_path,
        asset_store="s3",
        asset_s3_bucket=BUCKET,
        asset_s3_prefix="from-settings",
        asset_s3_endpoint_url=s3_endpoint,
    )
    store = asset_store_from_settings(common)
    assert isinstance(store, S3AssetStore)
    uri, digest = store.put(b"settings", "image/jpeg")
    assert uri == f"s3://{BUCKET}/from-settings/{digest[:2]}/{digest}.jpg"
    assert store.get(uri) == b"settings"
    # product media written to the filesystem store stays readable through the S3 store
    file_uri, _ = FilesystemAssetStore(tmp_path).put(b"product photo", "image/png")
    assert store.get(file_uri) == b"product photo"


def test_settings_from_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREATIVELOOP_ASSET_STORE", "s3")
    monkeypatch.setenv("CREATIVELOOP_ASSET_S3_BUCKET", BUCKET)
    monkeypatch.setenv("CREATIVELOOP_ASSET_S3_ENDPOINT_URL", s3_endpoint)
    store = asset_store_from_settings(CommonSettings())
    assert isinstance(store, S3AssetStore)
    assert store.get(store.put(b"env", "image/webp")[0]) == b"env"


def test_s3_without_bucket_fails_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="CREATIVELOOP_ASSET_S3_BUCKET"):
        CommonSettings(asset_store="s3")
    monkeypatch.setenv("CREATIVELOOP_ASSET_STORE", "s3")
    with pytest.raises(ValidationError, match="needs a bucket"):
        CommonSettings()
