"""One image decoder for every service: hostile bytes in, pixels or `ImageRejected` out.

Pillow reads the header first, so the format and the pixel count are checked before a single
pixel is decoded (no decompression bombs), then decodes fully (``load()``), so a truncated file
fails here with a reason instead of turning into a half-grey picture downstream. The EXIF
orientation is applied, so a phone photo is upright, and 16-bit pictures are scaled to 8 bits.
Every failure is one error type whose message names the `subject` ("product image",
"images[2]") as the caller's clients know it; services turn it into their own answer
(INVALID_ARGUMENT, a dead letter) at their boundary.

>>> import io
>>> from PIL import Image
>>> buffer = io.BytesIO()
>>> Image.new("RGBA", (4, 3), (255, 0, 0, 128)).save(buffer, "PNG")
>>> picture = decode_image(buffer.getvalue(), keep_alpha=True)
>>> picture.format, picture.pixels.shape, picture.pixels[0, 0].tolist(), int(picture.alpha[0, 0])
('PNG', (3, 4, 3), [0, 0, 255], 128)
>>> decode_image(b"GIF89a", subject="product image")
Traceback (most recent call last):
...
creativeloop.kit.images.ImageRejected: undecodable product image: not a readable image (cannot decode: ...)
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps

Pixels = npt.NDArray[np.uint8]

#: What product pictures may be, by Pillow's format names (the default of `decode_image`).
PICTURE_FORMATS = frozenset({"PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF"})

#: Pillow modes that carry transparency (P and L may too, through the "transparency" info key).
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})


class ImageRejected(ValueError):
    """Bytes that are not a usable picture; `reason` says why (empty, too large, unsupported
    format, corrupt or truncated, too small)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class DecodedImage:
    """Decoded pixels: BGR (HxWx3) or grey (HxW) uint8, the alpha channel when asked for and
    present, and the format Pillow named (PNG, JPEG, WEBP...)."""

    pixels: Pixels
    alpha: Pixels | None
    format: str

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


def _eight_bit(picture: Image.Image) -> Image.Image:
    """Pillow keeps 16-bit and 32-bit grey as I;16 / I / F, which convert("L") would clip."""
    if picture.mode.startswith("I;16") or picture.mode in ("I", "F"):
        values = np.asarray(picture, dtype=np.float64)
        top = 65535.0 if picture.mode != "F" else max(1.0, float(values.max()))
        return Image.fromarray(np.clip(values * (255.0 / top) + 0.5, 0, 255).astype(np.uint8), "L")
    return picture


def decode_image(
    data: bytes,
    *,
    subject: str = "image",
    max_bytes: int | None = None,
    max_pixels: int | None = None,
    formats: Collection[str] | None = PICTURE_FORMATS,
    min_side: int = 1,
    keep_alpha: bool = False,
    grey: bool = False,
) -> DecodedImage:
    """Decode `data` (PNG, JPEG, WebP, GIF, BMP, TIFF...) or raise `ImageRejected`.

    `formats` (Pillow's names; None: whatever Pillow reads) limits what is accepted; `max_bytes`
    and `max_pixels` are checked before decoding; `min_side` rejects pictures too small to use.
    With `keep_alpha`, a transparent picture's alpha comes back separately (None when fully
    opaque); `grey` gives HxW luminance instead of BGR.
    """
    if not data:
        raise ImageRejected(f"empty {subject}")
    if max_bytes is not None and len(data) > max_bytes:
        raise ImageRejected(f"{subject} is {len(data)} bytes, limit {max_bytes}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data))
            image_format = str(opened.format)
            if formats is not None and image_format not in formats:
                raise ImageRejected(f"unsupported {subject} format {image_format}")
            width, height = opened.size
            if max_pixels is not None and width * height > max_pixels:
                reason = f"{subject} is {width}x{height} pixels, limit {max_pixels} pixels"
                raise ImageRejected(reason)
            opened.load()
            picture: Image.Image = ImageOps.exif_transpose(opened)
    except ImageRejected:
        raise
    except Exception as error:  # Pillow raises many types for hostile input (OSError, SyntaxError...)
        reason = f"undecodable {subject}: not a readable image (cannot decode: {error})"
        raise ImageRejected(reason) from error
    width, height = picture.size
    if min(width, height) < min_side:
        raise ImageRejected(f"{subject} is {width}x{height} pixels, too small to analyse")
    picture = _eight_bit(picture)
    if grey:
        return DecodedImage(np.asarray(picture.convert("L"), dtype=np.uint8), None, image_format)
    transparent = picture.mode in _ALPHA_MODES or "transparency" in picture.info
    alpha: Pixels | None = None
    if keep_alpha and transparent:
        rgba = np.asarray(picture.convert("RGBA"), dtype=np.uint8)
        rgb = rgba[:, :, :3]
        alpha = np.ascontiguousarray(rgba[:, :, 3])
        if int(alpha.min()) == 255:
            alpha = None  # fully opaque: callers take the faster path without blending
    else:
        rgb = np.asarray(picture.convert("RGB"), dtype=np.uint8)
    return DecodedImage(np.ascontiguousarray(rgb[:, :, ::-1]), alpha, image_format)
