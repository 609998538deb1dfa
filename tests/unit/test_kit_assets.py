"""Content-addressed filesystem asset store."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from creativeloop.kit.assets import AssetNotFound, FilesystemAssetStore


def test_put_is_content_addressed_and_idempotent(tmp_path: Path) -> None:
    store = FilesystemAssetStore(tmp_path)
    uri, digest = store.put(b"png-bytes", "image/png")
    assert digest == hashlib.sha256(b"png-bytes").hexdigest()
    assert uri.endswith(f"{digest}.png")
    assert store.put(b"png-bytes", "image/png") == (uri, digest)
    assert store.get(uri) == b"png-bytes"
    assert len(list(tmp_path.rglob("*.png"))) == 1


@pytest.mark.parametrize("uri", ["s3://bucket/key", "file:///etc/passwd", "file:///nonexistent/x.png"])
def test_get_refuses_foreign_or_missing_assets(tmp_path: Path, uri: str) -> None:
    with pytest.raises(AssetNotFound):
        FilesystemAssetStore(tmp_path).get(uri)


def test_missing_asset_inside_the_store(tmp_path: Path) -> None:
    with pytest.raises(AssetNotFound, match="no asset"):
        FilesystemAssetStore(tmp_path).get((tmp_path / "ab" / "missing.png").as_uri())
