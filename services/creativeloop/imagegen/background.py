"""Background layers: solid, linear gradient, blurred product photo, product-harmonised gradient.

Each returns a fresh BGR canvas; the renderer caches them (per template and size, plus the
product for the product-dependent kinds), so drawing cost is paid once per key.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from creativeloop.imagegen.colour import RGB, harmonised, hex_rgb

Array = npt.NDArray[Any]


def solid(width: int, height: int, rgb: RGB) -> Array:
    canvas = np.empty((height, width, 3), np.uint8)
    canvas[:] = rgb[::-1]
    return canvas


def gradient(width: int, height: int, start: RGB, stop: RGB, direction: str) -> Array:
    """A two-stop linear gradient (vertical, horizontal or diagonal), computed in float once."""
    first = np.asarray(start[::-1], np.float32)
    last = np.asarray(stop[::-1], np.float32)
    rows = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    cols = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    t: Array
    if direction == "vertical":
        t = np.broadcast_to(rows, (height, width))
    elif direction == "horizontal":
        t = np.broadcast_to(cols, (height, width))
    else:
        t = (rows + cols) / 2
    return np.rint(first + (last - first) * t[:, :, None]).astype(np.uint8)


def harmonised_gradient(
    width: int, height: int, dominant: RGB, scheme: str, lightness: float, direction: str
) -> tuple[Array, RGB]:
    start, stop = harmonised(dominant, scheme, lightness)
    return gradient(width, height, start, stop, direction), start


def blurred_photo(
    width: int, height: int, photo: Array, radius: float, tint: str, tint_strength: float
) -> Array:
    """The photo scaled to cover the canvas, blurred at 1/8 resolution (as soft as a full-size
    blur for a radius this large, at a fraction of the cost) and washed with `tint`."""
    small_w, small_h = max(8, width // 8), max(8, height // 8)
    scale = max(small_w / photo.shape[1], small_h / photo.shape[0])
    cover_w, cover_h = (
        max(small_w, round(photo.shape[1] * scale)),
        max(small_h, round(photo.shape[0] * scale)),
    )
    covered = cv2.resize(photo, (cover_w, cover_h), interpolation=cv2.INTER_AREA)
    x, y = (cover_w - small_w) // 2, (cover_h - small_h) // 2
    small = covered[y : y + small_h, x : x + small_w]
    sigma = max(0.5, radius * max(width, height) / 8)
    small = cv2.GaussianBlur(small, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    washed = cv2.addWeighted(
        small, 1 - tint_strength, solid(small_w, small_h, hex_rgb(tint)), tint_strength, 0
    )
    return np.asarray(cv2.resize(washed, (width, height), interpolation=cv2.INTER_LINEAR), dtype=np.uint8)
