"""Content-addressed asset store: the same bytes always get the same uri, so writes are idempotent."""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import urlparse

from creativeloop.kit.files import write_atomically

_EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "video/mp4": ".mp4",
}


class AssetNotFound(LookupError):
    pass


class FilesystemAssetStore:
    """Stores blobs under `root/<sha256[:2]>/<sha256><ext>` and hands out file:// uris."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def put(self, content: bytes, mime_type: str) -> tuple[str, str]:
        """Store `content`; return (uri, sha256). Rewriting identical bytes is a no-op."""
        digest = hashlib.sha256(content).hexdigest()
        path = self.root / digest[:2] / (digest + _EXTENSIONS.get(mime_type, ".bin"))
        if not path.exists():
            write_atomically(path, content)  # readers never see a half-written asset
        return path.as_uri(), digest

    def get(self, uri: str) -> bytes:
        parsed = urlparse(uri)
        if parsed.scheme != "file":
            raise AssetNotFound(f"unsupported asset uri scheme {parsed.scheme!r} in {uri!r}")
        path = Path(parsed.path).resolve()
        if not path.is_relative_to(self.root):
            raise AssetNotFound(f"{uri!r} is outside the asset store {self.root}")
        try:
            return path.read_bytes()
        except FileNotFoundError as exc:
            raise AssetNotFound(f"no asset at {uri!r}") from exc
