"""Product pictures with exact masks: drawn shapes dressed with real-photo labels and textures,
and three real shapes (scikit-image's horse, opencv-doc's templ.png head, HappyFish.jpg).

Written for the independent test sets; shares no code or parameters with the project's
generators. Shapes include holes (mug and bag handles, headphone band) and thin parts (watch
strap, lamp stem, the horse's legs) on purpose.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from creativeloop.datasets.test_sets._media import (
    Image,
    Mask,
    cover,
    font,
    photo,
    silhouette,
    text_layer,
)

#: Drawn kinds (width / height aspect) and real silhouettes.
ASPECTS: dict[str, float] = {
    "bottle": 0.42,
    "jar": 0.85,
    "box": 0.8,
    "tube": 0.38,
    "sneaker": 1.9,
    "tote": 0.95,
    "mug": 1.25,
    "watch": 0.45,
    "headphones": 1.05,
    "lamp": 0.6,
    "horse": 400 / 328,
    "head": 100 / 130,
    "fish": 259 / 194,
}
KINDS: tuple[str, ...] = tuple(ASPECTS)

#: Real pictures cut into product labels and prints.
LABEL_PHOTOS = (
    "cv:baboon.jpg",
    "cv:starry_night.jpg",
    "cv:fruits.jpg",
    "cv:butterfly.jpg",
    "skl:flower.jpg",
    "sk:coffee",
    "cv:orange.jpg",
    "sk:colorwheel",
    "cv:HappyFish.jpg",
    "skl:china.jpg",
)
GREY_TEXTURES = ("sk:brick", "sk:gravel", "sk:grass", "cv:graf1.png")
BRANDS = ("AURA", "NORD", "kiko", "Velt", "LUMA", "凝时", "木森", "ORBI", "Halo", "雪屿", "PEAK", "tessa")

PALETTE: tuple[tuple[int, int, int], ...] = (
    (40, 40, 200),  # red (BGR)
    (60, 150, 240),  # orange
    (40, 200, 230),  # yellow
    (70, 160, 60),  # green
    (160, 110, 40),  # blue
    (130, 50, 110),  # purple
    (30, 30, 35),  # near black
    (235, 235, 232),  # near white
    (150, 150, 150),  # grey
    (90, 120, 170),  # tan
    (180, 170, 90),  # teal
    (120, 90, 200),  # pink
)


@dataclass(frozen=True)
class ProductPicture:
    """A product picture on no background: BGR pixels and the exact silhouette."""

    kind: str
    image: Image
    mask: Mask
    colour: tuple[int, int, int]


def _pts(points: list[tuple[float, float]], w: int, h: int) -> npt.NDArray[np.int32]:
    return np.array([[round(x * (w - 1)), round(y * (h - 1))] for x, y in points], dtype=np.int32)


def _poly(canvas: npt.NDArray[np.uint8], points: list[tuple[float, float]], value: int) -> None:
    h, w = canvas.shape
    cv2.fillPoly(canvas, [_pts(points, w, h)], value)


def _rrect(
    canvas: npt.NDArray[np.uint8], x0: float, y0: float, x1: float, y1: float, r: float, value: int
) -> None:
    """Filled rounded rectangle in fractions; `r` a fraction of the width."""
    h, w = canvas.shape
    X0, Y0, X1, Y1 = round(x0 * (w - 1)), round(y0 * (h - 1)), round(x1 * (w - 1)), round(y1 * (h - 1))
    R = max(0, min(round(r * w), (X1 - X0) // 2, (Y1 - Y0) // 2))
    cv2.rectangle(canvas, (X0 + R, Y0), (X1 - R, Y1), value, -1)
    cv2.rectangle(canvas, (X0, Y0 + R), (X1, Y1 - R), value, -1)
    for cx, cy in ((X0 + R, Y0 + R), (X1 - R, Y0 + R), (X0 + R, Y1 - R), (X1 - R, Y1 - R)):
        cv2.circle(canvas, (cx, cy), R, value, -1)


def _ellipse(
    canvas: npt.NDArray[np.uint8],
    cx: float,
    cy: float,
    ax: float,
    ay: float,
    value: int,
    *,
    start: float = 0,
    end: float = 360,
    thickness: float = -1,
) -> None:
    h, w = canvas.shape
    t = -1 if thickness < 0 else max(1, round(thickness * w))
    cv2.ellipse(
        canvas,
        (round(cx * (w - 1)), round(cy * (h - 1))),
        (max(1, round(ax * w)), max(1, round(ay * h))),
        0,
        start,
        end,
        value,
        t,
    )


# Each drawer paints part codes into a uint8 canvas: 0 background, 1 main body, 2 trim (cap,
# lid, sole, strap...), 3 label area, 4 dark detail. The mask is every non-zero pixel.
Drawer = Callable[[npt.NDArray[np.uint8]], None]


def _bottle(c: npt.NDArray[np.uint8]) -> None:
    _rrect(c, 0.0, 0.36, 1.0, 1.0, 0.12, 1)
    _ellipse(c, 0.5, 0.38, 0.5, 0.16, 1, start=180, end=360)
    _rrect(c, 0.34, 0.1, 0.66, 0.26, 0.0, 1)
    _rrect(c, 0.3, 0.0, 0.7, 0.11, 0.04, 2)
    _rrect(c, 0.0, 0.52, 1.0, 0.82, 0.0, 3)


def _jar(c: npt.NDArray[np.uint8]) -> None:
    _rrect(c, 0.0, 0.14, 1.0, 1.0, 0.14, 1)
    _rrect(c, 0.05, 0.0, 0.95, 0.17, 0.03, 2)
    _rrect(c, 0.0, 0.38, 1.0, 0.82, 0.0, 3)


def _box(c: npt.NDArray[np.uint8]) -> None:
    _poly(c, [(0.0, 0.2), (0.72, 0.2), (0.72, 1.0), (0.0, 1.0)], 1)
    _poly(c, [(0.0, 0.2), (0.28, 0.0), (1.0, 0.0), (0.72, 0.2)], 2)
    _poly(c, [(0.72, 0.2), (1.0, 0.0), (1.0, 0.8), (0.72, 1.0)], 4)
    _poly(c, [(0.08, 0.42), (0.64, 0.42), (0.64, 0.86), (0.08, 0.86)], 3)


def _tube(c: npt.NDArray[np.uint8]) -> None:
    _poly(
        c,
        [
            (0.0, 0.0),
            (1.0, 0.0),
            (1.0, 0.07),
            (0.95, 0.2),
            (0.7, 0.86),
            (0.3, 0.86),
            (0.05, 0.2),
            (0.0, 0.07),
        ],
        1,
    )
    _rrect(c, 0.28, 0.84, 0.72, 1.0, 0.05, 2)
    _poly(c, [(0.1, 0.25), (0.9, 0.25), (0.72, 0.7), (0.28, 0.7)], 3)


def _sneaker(c: npt.NDArray[np.uint8]) -> None:
    upper = [
        (0.04, 0.8),
        (0.08, 0.36),
        (0.28, 0.18),
        (0.42, 0.22),
        (0.52, 0.44),
        (0.8, 0.55),
        (0.97, 0.68),
        (0.98, 0.8),
    ]
    _poly(c, upper, 1)
    _poly(c, [(0.12, 0.42), (0.27, 0.3), (0.4, 0.33), (0.46, 0.5), (0.3, 0.56)], 3)
    _poly(c, [(0.02, 0.78), (0.98, 0.74), (1.0, 0.86), (0.95, 1.0), (0.05, 1.0), (0.0, 0.9)], 2)


def _tote(c: npt.NDArray[np.uint8]) -> None:
    _ellipse(c, 0.5, 0.38, 0.3, 0.36, 2, start=180, end=360, thickness=0.07)
    _poly(c, [(0.05, 0.36), (0.95, 0.36), (1.0, 1.0), (0.0, 1.0)], 1)
    _poly(c, [(0.25, 0.5), (0.75, 0.5), (0.77, 0.85), (0.23, 0.85)], 3)


def _mug(c: npt.NDArray[np.uint8]) -> None:
    _ellipse(c, 0.76, 0.5, 0.2, 0.3, 2, start=-90, end=90, thickness=0.08)
    _rrect(c, 0.0, 0.0, 0.78, 1.0, 0.08, 1)
    _rrect(c, 0.1, 0.3, 0.68, 0.75, 0.0, 3)
    _ellipse(c, 0.39, 0.03, 0.37, 0.04, 4)


def _watch(c: npt.NDArray[np.uint8]) -> None:
    _rrect(c, 0.22, 0.0, 0.78, 1.0, 0.05, 2)
    _ellipse(c, 0.5, 0.5, 0.5, 0.22, 1)
    _ellipse(c, 0.5, 0.5, 0.4, 0.176, 3)
    _rrect(c, 0.47, 0.39, 0.53, 0.5, 0.0, 4)
    _rrect(c, 0.5, 0.48, 0.75, 0.52, 0.0, 4)


def _headphones(c: npt.NDArray[np.uint8]) -> None:
    _ellipse(c, 0.5, 0.6, 0.4, 0.56, 2, start=180, end=360, thickness=0.08)
    _ellipse(c, 0.13, 0.74, 0.13, 0.26, 1)
    _ellipse(c, 0.87, 0.74, 0.13, 0.26, 1)
    _ellipse(c, 0.13, 0.74, 0.07, 0.17, 3)
    _ellipse(c, 0.87, 0.74, 0.07, 0.17, 3)


def _lamp(c: npt.NDArray[np.uint8]) -> None:
    _poly(c, [(0.2, 0.0), (0.8, 0.0), (1.0, 0.42), (0.0, 0.42)], 1)
    _rrect(c, 0.46, 0.4, 0.54, 0.92, 0.0, 2)
    _ellipse(c, 0.5, 0.93, 0.32, 0.07, 2)
    _poly(c, [(0.3, 0.12), (0.7, 0.12), (0.8, 0.32), (0.2, 0.32)], 3)


DRAWERS: dict[str, Drawer] = {
    "bottle": _bottle,
    "jar": _jar,
    "box": _box,
    "tube": _tube,
    "sneaker": _sneaker,
    "tote": _tote,
    "mug": _mug,
    "watch": _watch,
    "headphones": _headphones,
    "lamp": _lamp,
}
CYLINDRICAL = {"bottle", "jar", "tube", "mug", "lamp"}


def _tint(rgb: tuple[int, int, int], factor: float) -> npt.NDArray[np.float32]:
    return np.asarray(np.clip(np.asarray(rgb, dtype=np.float32) * factor, 0, 255), dtype=np.float32)


def _texture(name: str, w: int, h: int, rng: np.random.Generator) -> npt.NDArray[np.float32]:
    """A grey real texture scaled to w x h, centred on 0 (about -1..1)."""
    grey = photo(name, max_side=256)[:, :, 1].astype(np.float32)
    focus = (float(rng.uniform(0.3, 0.7)), float(rng.uniform(0.3, 0.7)))
    patch = cover(np.repeat(grey[:, :, None], 3, axis=2).astype(np.uint8), w, h, focus)[:, :, 0]
    t = patch.astype(np.float32)
    return np.asarray((t - t.mean()) / (t.std() + 1e-3), dtype=np.float32)


def product(
    kind: str,
    height: int,
    rng: np.random.Generator,
    *,
    colour: tuple[int, int, int] | None = None,
    label: bool = True,
) -> ProductPicture:
    """One product `height` pixels tall (width from the kind's aspect), on no background."""
    w = max(8, round(height * ASPECTS[kind]))
    h = max(8, height)
    base = colour if colour is not None else PALETTE[int(rng.integers(len(PALETTE)))]
    if kind in DRAWERS:
        parts = np.zeros((h, w), dtype=np.uint8)
        DRAWERS[kind](parts)
        mask = parts > 0
        image = _dress(kind, parts, base, rng, label=label)
    else:
        source, smask = silhouette(kind)
        image0 = np.asarray(cv2.resize(source, (w, h), interpolation=cv2.INTER_AREA), dtype=np.uint8)
        mask = cv2.resize(smask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
        image = image0 if kind == "fish" else _material(mask, base, rng)
    image = np.where(mask[:, :, None], image, 0).astype(np.uint8)
    return ProductPicture(kind, np.ascontiguousarray(image), mask, base)


def _material(mask: Mask, base: tuple[int, int, int], rng: np.random.Generator) -> Image:
    """A figurine's surface: the base colour, a real grey texture, and light from the top left."""
    h, w = mask.shape
    tex = _texture(GREY_TEXTURES[int(rng.integers(len(GREY_TEXTURES)))], w, h, rng)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    light = 1.15 - 0.35 * (xx / w + yy / h) / 2
    out = _tint(base, 1.0)[None, None, :] * light[:, :, None] * (1 + 0.12 * tex[:, :, None])
    return np.asarray(np.clip(out, 0, 255), dtype=np.uint8)


def _dress(
    kind: str,
    parts: npt.NDArray[np.uint8],
    base: tuple[int, int, int],
    rng: np.random.Generator,
    *,
    label: bool,
) -> Image:
    h, w = parts.shape
    trim = PALETTE[int(rng.integers(len(PALETTE)))]
    out = np.zeros((h, w, 3), dtype=np.float32)
    out[parts == 1] = _tint(base, 1.0)
    out[parts == 2] = _tint(trim, 0.9)
    out[parts == 4] = _tint(base, 0.55)
    out[parts == 3] = _tint(base, 1.0)
    tex = _texture(GREY_TEXTURES[int(rng.integers(len(GREY_TEXTURES)))], w, h, rng)
    out *= 1 + 0.04 * tex[:, :, None]
    if label:
        ys, xs = np.nonzero(parts == 3)
        if len(xs):
            x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
            art = cover(
                photo(LABEL_PHOTOS[int(rng.integers(len(LABEL_PHOTOS)))], 384),
                int(x1 - x0),
                int(y1 - y0),
                (float(rng.uniform(0.25, 0.75)), float(rng.uniform(0.25, 0.75))),
            ).astype(np.float32)
            region = parts[y0:y1, x0:x1] == 3
            sub = out[y0:y1, x0:x1]
            sub[region] = art[region]
            brand = BRANDS[int(rng.integers(len(BRANDS)))]
            size = max(6, int((y1 - y0) * 0.28))
            face = font("cjk_bold", size)
            cover_text = text_layer(brand, face, pad=1)
            th, tw = cover_text.shape
            if tw < x1 - x0 and th < y1 - y0:
                tx, ty = int(x0 + (x1 - x0 - tw) // 2), int(y0 + (y1 - y0 - th) // 2)
                a = cover_text[:, :, None] * (parts[ty : ty + th, tx : tx + tw] == 3)[:, :, None]
                ink = np.array((250, 250, 250) if np.mean(art) < 110 else (20, 20, 20), dtype=np.float32)
                out[ty : ty + th, tx : tx + tw] = out[ty : ty + th, tx : tx + tw] * (1 - a) + ink * a
    xx = (np.arange(w, dtype=np.float32) + 0.5) / w
    if kind in CYLINDRICAL:
        profile = 0.62 + 0.5 * np.sin(np.pi * np.clip(xx * 0.9 + 0.05, 0, 1)) ** 0.7
        spec = np.exp(-(((xx - 0.3) / 0.05) ** 2)) * 0.45
        shade = profile[None, :, None] * np.ones((h, 1, 1), np.float32)
        out = out * shade + 255 * spec[None, :, None] * (parts > 0)[:, :, None]
    else:
        yy = (np.arange(h, dtype=np.float32) + 0.5) / h
        shade = 1.1 - 0.25 * (xx[None, :] * 0.6 + yy[:, None] * 0.4)
        out = out * shade[:, :, None]
    return np.asarray(np.clip(out, 0, 255), dtype=np.uint8)
