"""Load and validate product images before any model sees them.

Pillow decodes fully (``load()``), so truncated files fail here with a reason instead of turning
into half-grey pictures downstream; size limits stop decompression bombs before decoding.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

from creativeloop.kit.assets import AssetNotFound, AssetStore
from creativeloop.kit.codec import InvalidEvent
from creativeloop.v1 import common_pb2

SUPPORTED_FORMATS = frozenset({"PNG", "JPEG", "WEBP", "BMP", "TIFF", "GIF"})


@dataclass(frozen=True)
class LoadedImage:
    index: int
    sha256: str
    bgr: npt.NDArray[np.uint8]

    @property
    def width(self) -> int:
        return int(self.bgr.shape[1])

    @property
    def height(self) -> int:
        return int(self.bgr.shape[0])


def image_bytes(media: common_pb2.Media, index: int, assets: AssetStore, max_bytes: int) -> bytes:
    if media.content:
        data = bytes(media.content)
    else:
        try:
            data = assets.get(media.uri)
        except (AssetNotFound, OSError) as error:
            raise InvalidEvent(f"images[{index}]: cannot read {media.uri!r}: {error}") from error
    if len(data) > max_bytes:
        raise InvalidEvent(f"images[{index}] is {len(data)} bytes, limit {max_bytes}")
    return data


def decode(data: bytes, index: int, max_pixels: int) -> npt.NDArray[np.uint8]:
    """BGR uint8 pixels, or InvalidEvent saying why not (corrupt, truncated, unsupported, too big)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            picture = Image.open(io.BytesIO(data))
            if picture.format not in SUPPORTED_FORMATS:
                raise InvalidEvent(f"images[{index}]: unsupported format {picture.format}")
            width, height = picture.size
            if width * height > max_pixels:
                raise InvalidEvent(f"images[{index}] is {width}x{height} pixels, limit {max_pixels}")
            picture.load()
    except InvalidEvent:
        raise
    except (
        OSError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as error:
        raise InvalidEvent(f"images[{index}]: not a readable image ({error})") from error
    if min(width, height) < 8:
        raise InvalidEvent(f"images[{index}] is {width}x{height} pixels, too small to analyse")
    rgb = np.asarray(picture.convert("RGB"), dtype=np.uint8)
    return np.ascontiguousarray(rgb[:, :, ::-1])


def load_images(
    product: common_pb2.Product, assets: AssetStore, max_bytes: int, max_pixels: int
) -> list[LoadedImage]:
    loaded = []
    for index, media in enumerate(product.images):
        data = image_bytes(media, index, assets, max_bytes)
        loaded.append(LoadedImage(index, hashlib.sha256(data).hexdigest(), decode(data, index, max_pixels)))
    return loaded
