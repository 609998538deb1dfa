"""Copy, price and logo drawn once per clip with Pillow, then alpha-blended onto every frame.

The overlay is rendered a single time as an RGBA layer the size of the output; only the rows it
covers are blended per frame, so overlays cost well under a millisecond per frame.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from creativeloop.videogen.media import Frame

_CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True)
class OverlaySpec:
    headline: str = ""
    price: str = ""
    #: Encoded logo image (PNG with alpha is best), drawn top-left.
    logo: bytes = b""

    @property
    def empty(self) -> bool:
        return not (self.headline.strip() or self.price.strip() or self.logo)


def _font(path: Path, size: int) -> Font:
    if path.is_file():
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)


def _fit(text: str, font_path: Path, width: int, start: int) -> tuple[Font, str]:
    """The largest font (down to a third of `start`) at which `text` fits `width`, else ellipsised."""
    size = start
    while size > max(8, start // 3):
        font = _font(font_path, size)
        if font.getlength(text) <= width:
            return font, text
        size -= 2
    font = _font(font_path, size)
    while len(text) > 1 and font.getlength(text + "…") > width:
        text = text[:-1]
    return font, text.rstrip() + "…"


class Overlay:
    """A pre-rendered RGBA layer for one output size; `apply` blends it onto a BGR frame."""

    def __init__(
        self, spec: OverlaySpec, size: tuple[int, int], font_path: Path, cjk_font_path: Path
    ) -> None:
        width, height = size
        layer = Image.new("RGBA", size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        margin = max(4, width // 24)
        unit = max(10, min(width, height) // 14)
        bottom = height - margin
        if spec.price.strip():
            font, text = _fit(spec.price.strip(), font_path, width // 2, unit)
            box = [round(v) for v in draw.textbbox((0, 0), text, font=font)]
            pad = unit // 3
            w, h = box[2] - box[0] + 2 * pad, box[3] - box[1] + 2 * pad
            x0, y0 = width - margin - w, bottom - h
            draw.rounded_rectangle((x0, y0, x0 + w, y0 + h), radius=pad, fill=(200, 16, 46, 235))
            draw.text((x0 + pad - box[0], y0 + pad - box[1]), text, font=font, fill=(255, 255, 255, 255))
            bottom = y0 - margin // 2
        if spec.headline.strip():
            headline = " ".join(spec.headline.split())
            path = cjk_font_path if _CJK.search(headline) and cjk_font_path.is_file() else font_path
            font_obj, text = _fit(headline, path, width - 2 * margin, unit)
            box = [round(v) for v in draw.textbbox((0, 0), text, font=font_obj)]
            pad = unit // 4
            h = box[3] - box[1] + 2 * pad
            y0 = bottom - h
            draw.rectangle((0, y0, width, y0 + h), fill=(0, 0, 0, 150))
            draw.text((margin - box[0], y0 + pad - box[1]), text, font=font_obj, fill=(255, 255, 255, 255))
        if spec.logo:
            with Image.open(io.BytesIO(spec.logo)) as source:
                logo = source.convert("RGBA")
            side = max(8, min(width, height) // 6)
            logo.thumbnail((side * 2, side))
            layer.alpha_composite(logo, (margin, margin))
        rgba = np.asarray(layer)
        rows = np.flatnonzero(rgba[..., 3].any(axis=1))
        self.top = int(rows[0]) if rows.size else 0
        self.bottom = int(rows[-1]) + 1 if rows.size else 0
        band = rgba[self.top : self.bottom]
        self._colour = cv2.cvtColor(np.ascontiguousarray(band[..., :3]), cv2.COLOR_RGB2BGR).astype(np.float32)
        self._alpha = (band[..., 3:4].astype(np.float32) / 255.0).astype(np.float32)

    def apply(self, frame: Frame) -> Frame:
        """Blend onto `frame` in place (and return it)."""
        if self.bottom <= self.top:
            return frame
        region = frame[self.top : self.bottom].astype(np.float32)
        blended = region + (self._colour - region) * self._alpha
        frame[self.top : self.bottom] = blended.astype(np.uint8)
        return frame


def logo_bytes(image: npt.NDArray[np.uint8]) -> bytes:
    """PNG bytes of a BGR(A) image (for tests and callers holding pixels)."""
    ok, buffer = cv2.imencode(".png", image)
    if not ok:
        raise ValueError("could not encode logo")
    return bytes(buffer.tobytes())
