"""Content-addressed asset store: the same bytes always get the same uri, so writes are idempotent.

Two implementations of `AssetStore` (content-addressed `put`, `get` by uri):

* `FilesystemAssetStore` (the default): `root/<sha256[:2]>/<sha256><ext>`, `file://` uris.
* `S3AssetStore`: any S3-compatible object store (AWS S3, MinIO, Ceph RGW, ...),
  `s3://<bucket>/<prefix>/<sha256[:2]>/<sha256><ext>` uris.

`asset_store_from_settings` picks one from `CommonSettings.asset_store`. An S3 store that does
not answer (unreachable, timed out, 5xx) raises `AssetStoreUnavailable`, a dependency outage on
which a stream stage pauses instead of dead-lettering (`creativeloop.kit.errors`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

import boto3
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from creativeloop.kit.errors import DependencyUnavailable
from creativeloop.kit.files import write_atomically
from creativeloop.kit.settings import CommonSettings

_EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "video/mp4": ".mp4",
}
#: S3 error codes that mean "no such object" (head_object answers a bare 404, get_object NoSuchKey).
_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
#: S3 error codes that mean "the store cannot answer now" (worth retrying the same request).
_UNAVAILABLE_CODES = frozenset(
    {"500", "502", "503", "504", "InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout"}
)


class AssetNotFound(LookupError):
    pass


class AssetStoreUnavailable(DependencyUnavailable):
    """The asset store did not answer: unreachable, timed out, or a 5xx / throttling answer."""

    def __init__(self, reason: str) -> None:
        super().__init__("assets", reason)


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code"))


def _raise_unavailable(exc: Exception) -> None:
    """Raise `AssetStoreUnavailable` from a botocore error that reports an outage; else return."""
    if isinstance(exc, BotoConnectionError | HTTPClientError):
        raise AssetStoreUnavailable(f"S3 unreachable: {exc}") from exc
    if isinstance(exc, ClientError) and _error_code(exc) in _UNAVAILABLE_CODES:
        raise AssetStoreUnavailable(f"S3 answered {_error_code(exc)}: {exc}") from exc


class AssetStore(Protocol):
    """Content-addressed blob store: `put` returns (uri, sha256); `get` reads a uri `put` returned."""

    def put(self, content: bytes, mime_type: str) -> tuple[str, str]: ...

    def get(self, uri: str) -> bytes: ...


def _name(digest: str, mime_type: str) -> str:
    """`<sha256[:2]>/<sha256><ext>`: the path of a blob relative to the store's root."""
    return f"{digest[:2]}/{digest}{_EXTENSIONS.get(mime_type, '.bin')}"


class FilesystemAssetStore:
    """Stores blobs under `root/<sha256[:2]>/<sha256><ext>` and hands out file:// uris."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def put(self, content: bytes, mime_type: str) -> tuple[str, str]:
        """Store `content`; return (uri, sha256). Rewriting identical bytes is a no-op."""
        digest = hashlib.sha256(content).hexdigest()
        path = self.root / _name(digest, mime_type)
        if not path.exists():
            write_atomically(path, content)  # readers never see a half-written asset
        return path.as_uri(), digest

    def get(self, uri: str) -> bytes:
        if "\x00" in uri:
            raise AssetNotFound("asset uri contains a NUL character")
        parsed = urlparse(uri)
        if parsed.scheme != "file":
            raise AssetNotFound(f"unsupported asset uri scheme {parsed.scheme!r} in {uri!r}")
        path = Path(parsed.path).resolve()
        if not path.is_relative_to(self.root):
            raise AssetNotFound(f"{uri!r} is outside the asset store")
        try:
            return path.read_bytes()
        except FileNotFoundError as exc:
            raise AssetNotFound(f"no asset at {uri!r}") from exc
        except OSError as exc:  # a directory, unreadable, a name too long...: not an asset either
            raise AssetNotFound(
                f"no readable asset at {uri!r} ({exc.strerror or type(exc).__name__})"
            ) from exc


class S3AssetStore:
    """Stores blobs in an S3-compatible bucket under `<prefix>/<sha256[:2]>/<sha256><ext>`.

    Uris are `s3://<bucket>/<key>`. `put` is idempotent: it asks `head_object` first and skips the
    upload when the object is already there (same key = same bytes, since the key is the hash).

    `get` reads `s3://` uris of this store's bucket. A `file://` uri is handed to `fallback`, a
    `FilesystemAssetStore` (the one under `CommonSettings.asset_dir` when built by
    `asset_store_from_settings`), because product media may still arrive as files written by a
    filesystem-store producer (the demo catalogue, older events); with no fallback such a uri is
    `AssetNotFound`. Uris of another bucket or scheme are `AssetNotFound`.

    Credentials come from boto3's standard chain: `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` /
    `AWS_SESSION_TOKEN`, `AWS_PROFILE` and the shared config files, or an instance / task role.
    boto3 clients are thread-safe, so one store may be shared across threads; calls block, as
    `FilesystemAssetStore`'s do.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "creativeloop",
        endpoint_url: str | None = None,
        region: str | None = "us-east-1",
        *,
        fallback: FilesystemAssetStore | None = None,
        client: Any = None,
    ) -> None:
        if not bucket:
            raise ValueError("S3AssetStore needs a bucket name")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.fallback = fallback
        if client is None:
            client = boto3.client("s3", endpoint_url=endpoint_url or None, region_name=region or None)
        self._client = client

    def key_for(self, digest: str, mime_type: str) -> str:
        name = _name(digest, mime_type)
        return f"{self.prefix}/{name}" if self.prefix else name

    def _exists(self, key: str) -> bool:
        try:
            self._client.head_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoConnectionError, HTTPClientError) as exc:
            if isinstance(exc, ClientError) and _error_code(exc) in _MISSING_CODES:
                return False
            _raise_unavailable(exc)
            raise
        return True

    def put(self, content: bytes, mime_type: str) -> tuple[str, str]:
        """Store `content`; return (uri, sha256). Storing identical bytes again uploads nothing."""
        digest = hashlib.sha256(content).hexdigest()
        key = self.key_for(digest, mime_type)
        if not self._exists(key):
            try:
                self._client.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=content,
                    ContentType=mime_type,
                    Metadata={"sha256": digest},
                )
            except (ClientError, BotoConnectionError, HTTPClientError) as exc:
                _raise_unavailable(exc)
                raise
        return f"s3://{self.bucket}/{key}", digest

    def get(self, uri: str) -> bytes:
        if "\x00" in uri:
            raise AssetNotFound("asset uri contains a NUL character")
        parsed = urlparse(uri)
        if parsed.scheme == "file" and self.fallback is not None:
            return self.fallback.get(uri)
        if parsed.scheme != "s3":
            raise AssetNotFound(f"unsupported asset uri scheme {parsed.scheme!r} in {uri!r}")
        if parsed.netloc != self.bucket:
            raise AssetNotFound(f"{uri!r} is outside the asset store s3://{self.bucket}")
        key = parsed.path.lstrip("/")
        if not key:
            raise AssetNotFound(f"no object key in {uri!r}")
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=key)
            body: bytes = response["Body"].read()
        except (ClientError, BotoConnectionError, HTTPClientError) as exc:
            if isinstance(exc, ClientError) and _error_code(exc) in _MISSING_CODES:
                raise AssetNotFound(f"no asset at {uri!r}") from exc
            _raise_unavailable(exc)
            raise
        return body


def asset_store_from_settings(common: CommonSettings) -> AssetStore:
    """The asset store `common.asset_store` names (`filesystem` under `asset_dir`, or `s3`)."""
    filesystem = FilesystemAssetStore(common.asset_dir)
    if common.asset_store == "s3":
        return S3AssetStore(
            common.asset_s3_bucket,
            common.asset_s3_prefix,
            common.asset_s3_endpoint_url or None,
            common.asset_s3_region or None,
            fallback=filesystem,
        )
    return filesystem
