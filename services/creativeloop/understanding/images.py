"""Load and validate product images before any model sees them (the kit's one decoder:
truncated files and decompression bombs fail here with a reason, as a dead letter)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from creativeloop.kit.assets import AssetNotFound, AssetStore
from creativeloop.kit.codec import InvalidEvent
from creativeloop.kit.images import ImageRejected, decode_image
from creativeloop.understanding.product_box import MIN_SIDE
from creativeloop.v1 import common_pb2


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
        return decode_image(data, subject=f"images[{index}]", max_pixels=max_pixels, min_side=MIN_SIDE).pixels
    except ImageRejected as error:
        raise InvalidEvent(error.reason) from error


def load_images(
    product: common_pb2.Product, assets: AssetStore, max_bytes: int, max_pixels: int
) -> list[LoadedImage]:
    loaded = []
    for index, media in enumerate(product.images):
        data = image_bytes(media, index, assets, max_bytes)
        loaded.append(LoadedImage(index, hashlib.sha256(data).hexdigest(), decode(data, index, max_pixels)))
    return loaded
