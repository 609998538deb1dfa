"""Image-to-video: a short clip from still product images, Ken Burns pan and zoom onto the product.

Each image is placed on a canvas of the slot's aspect ratio (over a blurred, darkened copy of
itself, so nothing of the product is cut off), then a virtual camera eases from the whole canvas
to a close-up around the product box (alternating zoom-in and zoom-out between images), with
sub-pixel motion (affine warps) and crossfades between images. The product box comes from the
caller (the understanding stage's `product_box`) or, failing that, from the image itself: the
pixels that differ from a plain background, else the salient region.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import cv2
import numpy as np

from creativeloop.videogen.crop import parse_aspect
from creativeloop.videogen.encode import Mp4Writer
from creativeloop.videogen.media import Frame
from creativeloop.videogen.overlay import Overlay
from creativeloop.videogen.product import foreground_mask
from creativeloop.videogen.render import RenderedClip, encode_jpeg

#: (x, y, width, height) as fractions of the image.
Box = tuple[float, float, float, float]
Window = tuple[float, float, float, float]


@dataclass(frozen=True)
class AnimateOptions:
    size: tuple[int, int]
    aspect: str
    seconds: float = 6.0
    fps: int = 25
    crossfade_s: float = 0.4
    zoom: float = 1.5
    preset: str = "veryfast"
    crf: int = 23
    poster_quality: int = 88


def product_box(image: Frame) -> Box:
    """Bounding box of the product: foreground against a plain background, else saliency."""
    height, width = image.shape[:2]
    mask = foreground_mask(image)
    if float(mask.mean()) > 255 * 0.9:
        saliency = cv2.saliency.StaticSaliencySpectralResidual_create()  # type: ignore[attr-defined]
        ok, salient = saliency.computeSaliency(image)
        if ok:
            salient = cv2.GaussianBlur(salient.astype(np.float32), (0, 0), 5)
            mask = (salient >= float(salient.mean() + salient.std())).astype(np.uint8) * 255
    points = cv2.findNonZero(mask)
    if points is None:
        return 0.0, 0.0, 1.0, 1.0
    x, y, w, h = cv2.boundingRect(points)
    return x / width, y / height, w / width, h / height


def _canvas(image: Frame, aspect: tuple[int, int], box: Box, max_side: int) -> tuple[Frame, Box]:
    """The image centred on a blurred fill of the target aspect; the box in canvas fractions."""
    height, width = image.shape[:2]
    scale = min(1.0, max_side / max(width, height))
    if scale < 1.0:
        image = cv2.resize(
            image, (max(2, round(width * scale)), max(2, round(height * scale))), interpolation=cv2.INTER_AREA
        )
        height, width = image.shape[:2]
    aw, ah = aspect
    canvas_w, canvas_h = (
        (width, round(width * ah / aw)) if width * ah >= height * aw else (round(height * aw / ah), height)
    )
    canvas_w, canvas_h = max(canvas_w, width), max(canvas_h, height)
    cover = max(canvas_w / width, canvas_h / height)
    fill = cv2.resize(
        image, (round(width * cover) + 1, round(height * cover) + 1), interpolation=cv2.INTER_LINEAR
    )
    fill = fill[:canvas_h, :canvas_w]
    fill = (cv2.GaussianBlur(fill, (0, 0), max(3, canvas_w // 30)) * 0.6).astype(np.uint8)
    x0, y0 = (canvas_w - width) // 2, (canvas_h - height) // 2
    fill[y0 : y0 + height, x0 : x0 + width] = image
    bx, by, bw, bh = box
    return fill, (
        (x0 + bx * width) / canvas_w,
        (y0 + by * height) / canvas_h,
        bw * width / canvas_w,
        bh * height / canvas_h,
    )


def _close_up(box: Box, canvas: tuple[int, int], zoom: float) -> Window:
    """A window of the canvas's aspect, `zoom` times smaller at most, centred on the box."""
    canvas_w, canvas_h = canvas
    bx, by, bw, bh = box
    cx, cy = (bx + bw / 2) * canvas_w, (by + bh / 2) * canvas_h
    # Enough room for the box with a margin, but never closer than 1/zoom of the canvas.
    fit = max(bw * canvas_w * 1.3 / canvas_w, bh * canvas_h * 1.3 / canvas_h)
    scale = min(1.0, max(1.0 / zoom, fit))
    w, h = canvas_w * scale, canvas_h * scale
    x = min(max(0.0, cx - w / 2), canvas_w - w)
    y = min(max(0.0, cy - h / 2), canvas_h - h)
    return x, y, w, h


def _ease(t: float) -> float:
    return t * t * (3 - 2 * t)


def _view(canvas: Frame, window: Window, size: tuple[int, int]) -> Frame:
    x, y, w, h = window
    out_w, out_h = size
    matrix = np.array([[out_w / w, 0, -x * out_w / w], [0, out_h / h, -y * out_h / h]], dtype=np.float64)
    return np.asarray(
        cv2.warpAffine(canvas, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    )


def animate(
    images: Sequence[Frame],
    options: AnimateOptions,
    boxes: Sequence[Box | None] | None = None,
    overlay: Overlay | None = None,
) -> RenderedClip:
    """Exactly round(seconds * fps) frames: one Ken Burns move per image, crossfaded."""
    if not images:
        raise ValueError("no images to animate")
    out_w, out_h = options.size
    total = max(1, round(options.seconds * options.fps))
    count = len(images)
    fade = min(round(options.crossfade_s * options.fps), total // (2 * count)) if count > 1 else 0
    # Each image's frames, so that the pieces minus their overlaps add up to `total`.
    base = (total + fade * (count - 1)) // count
    lengths = [base] * count
    lengths[-1] += total + fade * (count - 1) - base * count
    aspect = parse_aspect(options.aspect)
    writer = Mp4Writer(out_w, out_h, Fraction(options.fps), preset=options.preset, crf=options.crf)
    poster: Frame | None = None
    try:
        previous_tail: list[Frame] = []
        for i, image in enumerate(images):
            box = (boxes[i] if boxes is not None and i < len(boxes) else None) or product_box(image)
            canvas, canvas_box = _canvas(image, aspect, box, max(out_w, out_h) * 2)
            full: Window = (0.0, 0.0, float(canvas.shape[1]), float(canvas.shape[0]))
            near = _close_up(canvas_box, (canvas.shape[1], canvas.shape[0]), options.zoom)
            start, end = (full, near) if i % 2 == 0 else (near, full)
            frames = []
            for k in range(lengths[i]):
                t = _ease(k / max(1, lengths[i] - 1))
                window = tuple(a + (b - a) * t for a, b in zip(start, end, strict=True))
                frames.append(_view(canvas, window, (out_w, out_h)))  # type: ignore[arg-type]
            if poster is None:
                poster = frames[len(frames) // 2].copy()
            for k, old in enumerate(previous_tail):
                alpha = (k + 1) / (len(previous_tail) + 1)
                frames[k] = cv2.addWeighted(old, 1 - alpha, frames[k], alpha, 0)
            keep = len(frames) - (fade if i < count - 1 else 0)
            for frame in frames[:keep]:
                writer.write(overlay.apply(frame) if overlay is not None else frame)
            previous_tail = frames[keep:]
        video = writer.close()
    except BaseException:
        writer.abort()
        raise
    assert poster is not None
    if overlay is not None:
        poster = overlay.apply(poster)
    return RenderedClip(
        video=video,
        poster=encode_jpeg(poster, options.poster_quality),
        width=out_w,
        height=out_h,
        frames=writer.frames,
        fps=Fraction(options.fps),
        has_audio=False,
    )
