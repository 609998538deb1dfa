"""Colour maths: WCAG contrast, the product's dominant colour and palettes harmonised with it.

Contrast follows WCAG 2.x: relative luminance of sRGB colours and the ratio
(L1 + 0.05) / (L2 + 0.05); 4.5 is the AA threshold for body text. Against a backdrop that is not
flat (a photo, a gradient) the ratio is taken against its 1st and 99th luminance percentiles, the
worst of the two: a few anti-aliased pixels do not count, a visible bright or dark patch does.

>>> round(contrast_ratio(relative_luminance((255, 255, 255)), relative_luminance((0, 0, 0))), 1)
21.0
"""

from __future__ import annotations

import colorsys
from typing import Any

import numpy as np
import numpy.typing as npt

RGB = tuple[int, int, int]
Array = npt.NDArray[Any]

LIGHT_INK: RGB = (255, 255, 255)
DARK_INK: RGB = (20, 20, 24)
#: Used when the product has no clear hue (grey, black, white garments).
DEFAULT_ACCENT: RGB = (200, 16, 46)

# sRGB -> linear lookup for 0..255 (the luminance of every pixel is a table lookup).
_LINEAR = np.where((v := np.arange(256) / 255.0) <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4).astype(
    np.float32
)


def hex_rgb(colour: str) -> RGB:
    value = int(colour[1:], 16)
    return value >> 16, (value >> 8) & 0xFF, value & 0xFF


def rgb_hex(rgb: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def relative_luminance(rgb: RGB) -> float:
    return float(0.2126 * _LINEAR[rgb[0]] + 0.7152 * _LINEAR[rgb[1]] + 0.0722 * _LINEAR[rgb[2]])


def contrast_ratio(l1: float, l2: float) -> float:
    high, low = max(l1, l2), min(l1, l2)
    return (high + 0.05) / (low + 0.05)


def luminance_map(bgr: Array) -> Array:
    """Relative luminance of every pixel of a BGR uint8 image (float32)."""
    return np.asarray(
        0.0722 * _LINEAR[bgr[..., 0]] + 0.7152 * _LINEAR[bgr[..., 1]] + 0.2126 * _LINEAR[bgr[..., 2]],
        dtype=np.float32,
    )


def backdrop_range(bgr: Array) -> tuple[float, float]:
    """1st and 99th luminance percentiles of a BGR region (every other pixel is enough)."""
    sample = luminance_map(bgr[::2, ::2]).ravel()
    if sample.size == 0:
        return 0.0, 1.0
    low, high = np.percentile(sample, (1, 99))
    return float(low), float(high)


def worst_contrast(ink: RGB, backdrop: tuple[float, float]) -> float:
    ink_l = relative_luminance(ink)
    return min(contrast_ratio(ink_l, backdrop[0]), contrast_ratio(ink_l, backdrop[1]))


def pick_ink(
    backdrop: tuple[float, float], minimum: float, preferred: RGB | None = None
) -> tuple[RGB, float] | None:
    """The preferred ink if it reaches `minimum`, else the better of light and dark if it does."""
    if preferred is not None:
        ratio = worst_contrast(preferred, backdrop)
        if ratio >= minimum:
            return preferred, ratio
    best = max(((ink, worst_contrast(ink, backdrop)) for ink in (DARK_INK, LIGHT_INK)), key=lambda p: p[1])
    return best if best[1] >= minimum else None


def _grey_level(luminance: float) -> float:
    """The sRGB level (0..1) of a grey with this relative luminance."""
    return luminance * 12.92 if luminance <= 0.0031308 else 1.055 * luminance ** (1 / 2.4) - 0.055


def _grey_luminance(level: float) -> float:
    return level / 12.92 if level <= 0.04045 else ((level + 0.055) / 1.055) ** 2.4


def scrim_for(backdrop: tuple[float, float], minimum: float) -> tuple[RGB, RGB, float]:
    """(ink, scrim colour, scrim opacity) that makes the backdrop's extremes reach `minimum`.

    Light ink over a black scrim or dark ink over a white one, whichever needs less opacity. The
    blend is estimated in sRGB on greys of the extremes' luminance (how the canvas really blends);
    the renderer measures the result and adds opacity if coloured pixels fall short.
    """
    options = []
    for ink, scrim in ((LIGHT_INK, (0, 0, 0)), (DARK_INK, (255, 255, 255))):
        level = scrim[0] / 255.0
        for opacity in np.linspace(0.2, 1.0, 17):
            blended = [
                _grey_luminance(float(opacity) * level + (1 - float(opacity)) * _grey_level(b))
                for b in backdrop
            ]
            if worst_contrast(ink, (blended[0], blended[1])) >= minimum + 0.3:
                options.append((float(opacity), ink, scrim))
                break
    opacity, ink, scrim = min(options)
    return ink, scrim, opacity


def dominant_colour(bgr: Array, alpha: Array | None) -> RGB:
    """The product's dominant colour: the most common hue among its saturated pixels (weighted
    by saturation), or its median colour when it is mostly grey."""
    pixels = bgr[::4, ::4].reshape(-1, 3)
    if alpha is not None:
        pixels = pixels[alpha[::4, ::4].ravel() > 127]
    if pixels.shape[0] < 16:
        pixels = bgr.reshape(-1, 3)
    hsv = _bgr_to_hsv(pixels)
    saturated = (hsv[:, 1] > 0.25) & (hsv[:, 2] > 0.2)
    if saturated.mean() < 0.15:
        median = np.median(pixels, axis=0)
        return int(median[2]), int(median[1]), int(median[0])
    hues = hsv[saturated, 0]
    histogram, edges = np.histogram(hues, bins=24, range=(0.0, 1.0), weights=hsv[saturated, 1])
    top = int(np.argmax(histogram))
    chosen = pixels[saturated][(hues >= edges[top]) & (hues < edges[top + 1])]
    median = np.median(chosen, axis=0)
    return int(median[2]), int(median[1]), int(median[0])


def _bgr_to_hsv(pixels: Array) -> Array:
    rgb = pixels[:, ::-1].astype(np.float32) / 255.0
    high, low = rgb.max(axis=1), rgb.min(axis=1)
    span = np.where(high - low == 0, 1.0, high - low)
    r, g, b = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    hue = np.where(
        high == r, ((g - b) / span) % 6, np.where(high == g, (b - r) / span + 2, (r - g) / span + 4)
    )
    hue = np.where(high - low == 0, 0.0, hue / 6.0)
    saturation = np.where(high == 0, 0.0, (high - low) / np.where(high == 0, 1.0, high))
    return np.stack([hue, saturation, high], axis=1)


def _hsv(h: float, s: float, v: float) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0))
    return round(r * 255), round(g * 255), round(b * 255)


def harmonised(dominant: RGB, scheme: str, lightness: float) -> tuple[RGB, RGB]:
    """Two background colours in harmony with `dominant`: the same hue washed out (tint), its
    neighbours (analogous) or its opposite (complementary), at HSV value `lightness`."""
    h, s, _ = colorsys.rgb_to_hsv(*(c / 255.0 for c in dominant))
    s = min(s, 0.6)
    dark = lightness < 0.5
    wash = 0.55 if dark else 0.22
    if scheme == "analogous":
        return _hsv(h - 0.08, s * wash, lightness), _hsv(h + 0.08, s * wash, lightness * 0.93)
    if scheme == "complementary":
        return _hsv(h + 0.5, s * wash, lightness), _hsv(h + 0.5, s * wash * 1.3, lightness * 0.9)
    return _hsv(h, s * wash, lightness), _hsv(h, s * wash * 1.4, lightness * 0.9)


def accent(dominant: RGB) -> RGB:
    """A strong colour to fill price tags and badges: the product's own hue, saturated and dark
    enough for white text, or the default red for grey products."""
    h, s, _ = colorsys.rgb_to_hsv(*(c / 255.0 for c in dominant))
    base = DEFAULT_ACCENT if s < 0.25 else _hsv(h, max(s, 0.75), 0.7)
    value = colorsys.rgb_to_hsv(*(c / 255.0 for c in base))[2]
    while contrast_ratio(relative_luminance(base), relative_luminance(LIGHT_INK)) < 4.6 and value > 0.05:
        value -= 0.05
        bh, bs, _ = colorsys.rgb_to_hsv(*(c / 255.0 for c in base))
        base = _hsv(bh, bs, value)
    return base
