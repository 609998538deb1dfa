"""Backgrounds, text, badges and shadows drawn onto BGR canvases, each returning its coverage so a
test set can tell which pixels an overlay hides."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from creativeloop.datasets.test_sets._media import (
    Image,
    Mask,
    cover,
    font,
    paste,
    photo,
    rotate_layer,
    solid,
    text_layer,
)

Coverage = npt.NDArray[np.float32]

BUSY_PHOTOS = (
    "skl:china.jpg",
    "skl:flower.jpg",
    "cv:building.jpg",
    "cv:leuvenA.jpg",
    "cv:fruits.jpg",
    "cv:home.jpg",
    "cv:baboon.jpg",
    "cv:rubberwhale1.png",
    "cv:aloeL.jpg",
    "cv:board.jpg",
    "cv:smarties.png",
    "cv:stuff.jpg",
    "sk:coffee",
    "sk:rocket",
    "cv:starry_night.jpg",
    "cv:box_in_scene.png",
)
PATTERNS = ("checker", "stripes", "dots", "brick", "gravel", "chessboard", "cards", "notes", "sudoku")


def light_colour(rng: np.random.Generator) -> tuple[int, int, int]:
    base = rng.uniform(200, 250)
    tint = rng.uniform(-20, 12, size=3)
    b, g, r = np.clip(base + tint, 0, 255)
    return int(b), int(g), int(r)


def any_colour(rng: np.random.Generator) -> tuple[int, int, int]:
    b, g, r = rng.integers(0, 256, size=3)
    return int(b), int(g), int(r)


def plain(w: int, h: int, rng: np.random.Generator) -> Image:
    choice = int(rng.integers(4))
    if choice == 0:
        return solid(w, h, (255, 255, 255))
    if choice == 1:
        return solid(w, h, light_colour(rng))
    if choice == 2:
        v = int(rng.integers(40, 90))
        return solid(w, h, (v, v, v + int(rng.integers(0, 20))))
    b, g, r = rng.integers(90, 220, size=3)
    return solid(w, h, (int(b), int(g), int(r)))


def gradient(w: int, h: int, rng: np.random.Generator) -> Image:
    """A studio sweep: two colours top to bottom, a soft vignette."""
    top = np.asarray(light_colour(rng), np.float32)
    bottom = top * rng.uniform(0.55, 0.95)
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    img = top * (1 - t) + bottom * t
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.hypot((xx - w / 2) / w, (yy - h / 2) / h)
    img = img * (1 - 0.35 * r[:, :, None] ** 2)
    return np.asarray(np.clip(np.broadcast_to(img, (h, w, 3)), 0, 255), dtype=np.uint8)


def pattern(w: int, h: int, rng: np.random.Generator, kind: str | None = None) -> Image:
    kind = kind or PATTERNS[int(rng.integers(len(PATTERNS)))]
    c1 = np.asarray(any_colour(rng), np.float32)
    c2 = np.asarray(any_colour(rng), np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == "checker":
        s = float(rng.uniform(10, 40))
        sel = ((xx // s + yy // s) % 2)[:, :, None]
    elif kind == "stripes":
        s = float(rng.uniform(8, 30))
        ang = float(rng.uniform(0, np.pi))
        sel = (((xx * np.cos(ang) + yy * np.sin(ang)) // s) % 2)[:, :, None]
    elif kind == "dots":
        s = float(rng.uniform(14, 36))
        d = np.hypot((xx % s) - s / 2, (yy % s) - s / 2)
        sel = (d < s * rng.uniform(0.2, 0.4))[:, :, None].astype(np.float32)
    else:
        name = {
            "brick": "sk:brick",
            "gravel": "sk:gravel",
            "chessboard": "cv:chessboard.png",
            "cards": "cv:cards.png",
            "notes": "cv:notes.png",
            "sudoku": "cv:sudoku.png",
        }[kind]
        tex = cover(photo(name), w, h, (float(rng.uniform(0.3, 0.7)), float(rng.uniform(0.3, 0.7))))
        sel = tex[:, :, 1:2].astype(np.float32) / 255.0
    img = c1 * (1 - sel) + c2 * sel
    return np.asarray(np.clip(img, 0, 255), dtype=np.uint8)


def busy(w: int, h: int, rng: np.random.Generator, *, blur: bool | None = None) -> Image:
    name = BUSY_PHOTOS[int(rng.integers(len(BUSY_PHOTOS)))]
    img = cover(photo(name), w, h, (float(rng.uniform(0.2, 0.8)), float(rng.uniform(0.2, 0.8))))
    if blur if blur is not None else rng.random() < 0.3:
        img = np.asarray(cv2.GaussianBlur(img, (0, 0), float(rng.uniform(2, 5))), dtype=np.uint8)
    return np.ascontiguousarray(img)


def shadow(canvas: Image, mask: Mask, dx: int, dy: int, blur: float, strength: float) -> None:
    """Darken `canvas` where `mask` shifted by (dx, dy) and blurred falls (a drop shadow)."""
    h, w = mask.shape
    m = np.zeros((h, w), np.float32)
    src = mask.astype(np.float32)
    xs0, xs1 = max(0, -dx), min(w, w - dx)
    ys0, ys1 = max(0, -dy), min(h, h - dy)
    if xs0 < xs1 and ys0 < ys1:
        m[ys0 + dy : ys1 + dy, xs0 + dx : xs1 + dx] = src[ys0:ys1, xs0:xs1]
    if blur > 0:
        m = np.asarray(cv2.GaussianBlur(m, (0, 0), blur), dtype=np.float32)
    canvas[:] = np.clip(canvas.astype(np.float32) * (1 - strength * m[:, :, None]), 0, 255).astype(np.uint8)


def contact_shadow(canvas: Image, cx: int, cy: int, half_w: int, strength: float) -> None:
    h, w = canvas.shape[:2]
    m = np.zeros((h, w), np.float32)
    cv2.ellipse(m, (cx, cy), (max(2, half_w), max(2, half_w // 7)), 0, 0, 360, 1.0, -1)
    m = np.asarray(cv2.GaussianBlur(m, (0, 0), max(1.0, half_w / 8)), dtype=np.float32)
    canvas[:] = np.clip(canvas.astype(np.float32) * (1 - strength * m[:, :, None]), 0, 255).astype(np.uint8)


def draw_text(
    canvas: Image,
    text: str,
    face_kind: str,
    size: int,
    x: int,
    y: int,
    fill: Sequence[int],
    *,
    stroke: int = 0,
    stroke_fill: Sequence[int] = (0, 0, 0),
    angle: float = 0.0,
) -> Coverage:
    """Draw `text` with its ink box's top-left at (x, y); return the full-canvas coverage."""
    face = font(face_kind, size)
    h, w = canvas.shape[:2]
    full = np.zeros((h, w), np.float32)
    # Both layers have the same size and origin, so they stay aligned when rotated.
    inner = text_layer(text, face, pad=2 + stroke)
    if stroke:
        outer = text_layer(text, face, pad=2, stroke=stroke)
        _blend(canvas, rotate_layer(outer, angle) if angle else outer, stroke_fill, x, y, full)
    _blend(canvas, rotate_layer(inner, angle) if angle else inner, fill, x, y, full)
    return full


def _blend(canvas: Image, alpha: Coverage, fill: Sequence[int], x: int, y: int, full: Coverage) -> None:
    h, w = alpha.shape
    paste(canvas, solid(w, h, fill), alpha, x, y)
    ch, cw = full.shape
    x0, y0, x1, y1 = max(0, x), max(0, y), min(cw, x + w), min(ch, y + h)
    if x0 < x1 and y0 < y1:
        region = full[y0:y1, x0:x1]
        np.maximum(region, alpha[y0 - y : y1 - y, x0 - x : x1 - x], out=region)


def text_extent(text: str, face_kind: str, size: int, stroke: int = 0) -> tuple[int, int]:
    layer = text_layer(text, font(face_kind, size), pad=2, stroke=stroke)
    return layer.shape[1], layer.shape[0]


def fit_size(text: str, face_kind: str, max_w: int, max_h: int, start: int) -> int:
    """The largest size <= `start` at which `text` fits max_w x max_h."""
    size = start
    while size > 8:
        tw, th = text_extent(text, face_kind, size)
        if tw <= max_w and th <= max_h:
            return size
        size = int(size * 0.9)
    return 8


def badge(
    canvas: Image,
    cx: int,
    cy: int,
    radius: int,
    text: str,
    fill: Sequence[int],
    ink: Sequence[int],
    *,
    star: bool,
) -> Coverage:
    """A round or star-burst sticker with a short text; returns its coverage."""
    h, w = canvas.shape[:2]
    m = np.zeros((h, w), np.uint8)
    if star:
        n = 16
        angles = np.linspace(0, 2 * np.pi, 2 * n, endpoint=False)
        radii = np.where(np.arange(2 * n) % 2 == 0, radius, radius * 0.8)
        pts = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], axis=1)
        cv2.fillPoly(m, [np.round(pts).astype(np.int32)], 255)
    else:
        cv2.circle(m, (cx, cy), radius, 255, -1)
    cov = np.asarray(cv2.GaussianBlur(m.astype(np.float32) / 255.0, (3, 3), 0), dtype=np.float32)
    paste(canvas, solid(w, h, fill), cov, 0, 0)
    size = fit_size(text, "sans_bold", int(radius * 1.4), int(radius * 0.9), int(radius * 0.8))
    tw, th = text_extent(text, "sans_bold", size)
    tcov = draw_text(canvas, text, "sans_bold", size, cx - tw // 2, cy - th // 2, ink)
    return np.maximum(cov, tcov)


def ribbon(canvas: Image, text: str, fill: Sequence[int], ink: Sequence[int], corner: str) -> Coverage:
    """A diagonal band across one top corner with a word on it."""
    h, w = canvas.shape[:2]
    d = int(min(w, h) * 0.28)
    t = max(10, int(min(w, h) * 0.07))
    if corner == "left":
        pts = [(0, d - t), (d - t, 0), (d + t, 0), (0, d + t)]
    else:
        pts = [(w, d - t), (w - d + t, 0), (w - d - t, 0), (w, d + t)]
    m = np.zeros((h, w), np.uint8)
    cv2.fillPoly(m, [np.array(pts, np.int32)], 255)
    cov = m.astype(np.float32) / 255.0
    paste(canvas, solid(w, h, fill), cov, 0, 0)
    size = fit_size(text, "sans_bold", int(d * 0.9), int(t * 1.4), t)
    layer = rotate_layer(text_layer(text, font("sans_bold", size), pad=2), 45 if corner == "left" else -45)
    lh, lw = layer.shape
    cx, cy = (d // 2, d // 2) if corner == "left" else (w - d // 2, d // 2)
    full = np.zeros((h, w), np.float32)
    _blend(canvas, layer, ink, cx - lw // 2, cy - lh // 2, full)
    return np.asarray(np.maximum(cov, full), dtype=np.float32)


def contrast_ink(canvas: Image, box: tuple[int, int, int, int]) -> tuple[int, int, int]:
    """Black or white, whichever stands out on the canvas region `box` (x, y, w, h)."""
    x, y, w, h = box
    region = canvas[max(0, y) : y + h, max(0, x) : x + w]
    mean = float(region.mean()) if region.size else 128.0
    return (20, 20, 20) if mean > 140 else (250, 250, 250)
