"""Smart crop to the slot's aspect ratio: the largest window of that shape, following the product.

Inside each piece, the window's centre follows the subject centroids of the sampled frames
(product colour x saliency), interpolated to every frame and smoothed forwards and backwards
(zero-phase, time constant `smoothing_s`), so the camera glides instead of jittering; each piece
starts afresh, since after a cut the product is somewhere else.

>>> crop_size((1280, 720), "9:16")
(404, 720)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Ints = npt.NDArray[np.int64]


def parse_aspect(aspect: str) -> tuple[int, int]:
    """ "9:16" -> (9, 16); ValueError for anything else."""
    try:
        left, right = aspect.split(":")
        width, height = int(left), int(right)
    except ValueError:
        raise ValueError(f"aspect ratio {aspect!r} is not W:H (e.g. 9:16)") from None
    if not (0 < width <= 10_000 and 0 < height <= 10_000 and 0.1 <= width / height <= 10):
        raise ValueError(f"aspect ratio {aspect!r} out of range")
    return width, height


def crop_size(source: tuple[int, int], aspect: str) -> tuple[int, int]:
    """The largest even (width, height) of `aspect` inside `source`."""
    aw, ah = parse_aspect(aspect)
    width, height = source
    if width * ah > height * aw:  # source is wider: full height
        return max(2, int(height * aw / ah) // 2 * 2), height // 2 * 2
    return width // 2 * 2, max(2, int(width * ah / aw) // 2 * 2)


def output_size(aspect: str, long_side: int) -> tuple[int, int]:
    """Even (width, height) of `aspect` whose longer side is `long_side`."""
    aw, ah = parse_aspect(aspect)
    if aw >= ah:
        return long_side // 2 * 2, max(2, round(long_side * ah / aw / 2) * 2)
    return max(2, round(long_side * aw / ah / 2) * 2), long_side // 2 * 2


def _smooth(values: npt.NDArray[np.float64], alpha: float) -> npt.NDArray[np.float64]:
    """Forward-backward exponential smoothing (no lag)."""
    out = values.copy()
    for i in range(1, len(out)):
        out[i] = alpha * out[i] + (1 - alpha) * out[i - 1]
    for i in range(len(out) - 2, -1, -1):
        out[i] = alpha * out[i] + (1 - alpha) * out[i + 1]
    return out


def crop_path(
    start: int,
    end: int,
    centres: Sequence[tuple[int, float, float]],
    source: tuple[int, int],
    window: tuple[int, int],
    fps: float,
    smoothing_s: float,
) -> Ints:
    """Top-left corners [frames, 2] (x, y) of the crop window for source frames start..end-1.

    `centres` are (frame, x, y) subject centroids, as fractions of the frame, from this shot.
    """
    frames = np.arange(start, end)
    width, height = source
    crop_w, crop_h = window
    if centres:
        known = sorted(centres)
        at = np.array([c[0] for c in known], dtype=np.float64)
        xs = np.interp(frames, at, [c[1] for c in known]) * width
        ys = np.interp(frames, at, [c[2] for c in known]) * height
    else:
        xs = np.full(len(frames), width / 2.0)
        ys = np.full(len(frames), height / 2.0)
    if smoothing_s > 0 and len(frames) > 1:
        alpha = 1.0 - float(np.exp(-1.0 / max(1e-6, smoothing_s * fps)))
        xs, ys = _smooth(xs, alpha), _smooth(ys, alpha)
    left = np.clip(np.round(xs - crop_w / 2), 0, width - crop_w).astype(np.int64)
    top = np.clip(np.round(ys - crop_h / 2), 0, height - crop_h).astype(np.int64)
    return np.stack([left, top], axis=1)
