"""Product pictures in: decode hostile bytes safely, cut the product out with its mask.

The understanding stage stores a 0/255 mask of the main product and a confidence. A confident
mask gives a *cut-out* (cropped to the product, alpha feathered by a pixel) the layout can move
freely; a weak or missing one gives the whole *picture*, with the product's box inside it, so
text still keeps off the product. A transparent PNG is its own cut-out.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import numpy as np
import numpy.typing as npt

from creativeloop.imagegen.colour import RGB, dominant_colour
from creativeloop.kit.images import ImageRejected
from creativeloop.kit.images import decode_image as decode_picture

Array = npt.NDArray[Any]
CutoutKind = Literal["cutout", "transparent", "picture"]
NormBox = tuple[float, float, float, float]


class RenderRejected(ValueError):
    """Input that cannot be rendered (bad image, unknown template, bad size); `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ProductImage:
    """A decoded product image: BGR pixels, an alpha channel for transparent images, and the
    content address of its bytes (caches key on it)."""

    bgr: Array
    alpha: Array | None = None
    key: str = field(default="")

    @property
    def width(self) -> int:
        return int(self.bgr.shape[1])

    @property
    def height(self) -> int:
        return int(self.bgr.shape[0])

    def shrunk(self, max_side: int) -> ProductImage:
        """At most `max_side` pixels on its longer side (for rendering one image many times)."""
        scale = max_side / max(self.width, self.height)
        if scale >= 1:
            return self
        size = (max(1, round(self.width * scale)), max(1, round(self.height * scale)))
        alpha = None if self.alpha is None else cv2.resize(self.alpha, size, interpolation=cv2.INTER_AREA)
        return ProductImage(cv2.resize(self.bgr, size, interpolation=cv2.INTER_AREA), alpha, self.key)


def decode_image(data: bytes, *, max_bytes: int, max_pixels: int) -> ProductImage:
    """Decode a PNG, JPEG, WebP (GIF, BMP, TIFF) product image; RenderRejected says what is wrong."""
    try:
        picture = decode_picture(
            data, subject="product image", max_bytes=max_bytes, max_pixels=max_pixels, keep_alpha=True
        )
    except ImageRejected as exc:
        raise RenderRejected(exc.reason) from exc
    return ProductImage(picture.pixels, picture.alpha, hashlib.sha256(data).hexdigest())


def decode_mask(data: bytes, width: int, height: int) -> Array:
    """A 0/255 product mask at the product image's size; RenderRejected if it is not a PNG mask."""
    try:
        mask = decode_picture(data, subject="product mask (a PNG)", formats=None, grey=True)
    except ImageRejected as exc:
        raise RenderRejected(exc.reason) from exc
    if mask.format != "PNG":
        raise RenderRejected(f"product mask must be a PNG, not {mask.format}")
    if mask.pixels.shape == (height, width):
        return mask.pixels
    return np.asarray(cv2.resize(mask.pixels, (width, height), interpolation=cv2.INTER_LINEAR), np.uint8)


@dataclass(frozen=True)
class Cutout:
    """What gets pasted: pixels, alpha (None = opaque picture), the product's normalised box
    inside it, its dominant colour, and a cache key."""

    bgr: Array
    alpha: Array | None
    kind: CutoutKind
    inner: NormBox
    dominant: RGB
    key: str

    @property
    def size(self) -> tuple[int, int]:
        return int(self.bgr.shape[1]), int(self.bgr.shape[0])


def _crop(pixels: Array, alpha: Array, pad: float = 0.01) -> tuple[Array, Array]:
    points = cv2.findNonZero((alpha > 24).astype(np.uint8))
    x, y, w, h = cv2.boundingRect(points)
    d = round(pad * max(alpha.shape))
    x0, y0 = max(0, x - d), max(0, y - d)
    x1, y1 = min(alpha.shape[1], x + w + d), min(alpha.shape[0], y + h + d)
    return np.ascontiguousarray(pixels[y0:y1, x0:x1]), np.ascontiguousarray(alpha[y0:y1, x0:x1])


def _tight(alpha: Array) -> NormBox:
    x, y, w, h = cv2.boundingRect(cv2.findNonZero((alpha > 24).astype(np.uint8)))
    return x / alpha.shape[1], y / alpha.shape[0], w / alpha.shape[1], h / alpha.shape[0]


def make_cutout(
    product: ProductImage,
    mask: Array | None = None,
    confidence: float = 0.0,
    *,
    min_confidence: float = 0.5,
    box: NormBox | None = None,
) -> Cutout:
    """The product cut out with `mask` when it is confident, else the whole picture."""
    if product.alpha is not None and int(product.alpha.max()) > 24:
        bgr, alpha = _crop(product.bgr, product.alpha)
        return Cutout(bgr, alpha, "transparent", _tight(alpha), dominant_colour(bgr, alpha), product.key)
    if mask is not None and confidence >= min_confidence and int(mask.max()) > 127:
        feathered = cv2.GaussianBlur(mask, (3, 3), 0)
        bgr, alpha = _crop(product.bgr, feathered)
        key = f"{product.key}:mask:{hashlib.sha256(mask.tobytes()).hexdigest()[:16]}"
        return Cutout(bgr, alpha, "cutout", _tight(alpha), dominant_colour(bgr, alpha), key)
    inner = box if box is not None and box[2] > 0 and box[3] > 0 else (0.0, 0.0, 1.0, 1.0)
    region = product.bgr
    if inner != (0.0, 0.0, 1.0, 1.0):
        x0, y0 = int(inner[0] * product.width), int(inner[1] * product.height)
        x1 = max(x0 + 1, int((inner[0] + inner[2]) * product.width))
        y1 = max(y0 + 1, int((inner[1] + inner[3]) * product.height))
        region = product.bgr[y0:y1, x0:x1]
    key = f"{product.key}:picture:{','.join(f'{v:.4f}' for v in inner)}"
    return Cutout(product.bgr, None, "picture", inner, dominant_colour(region, None), key)
