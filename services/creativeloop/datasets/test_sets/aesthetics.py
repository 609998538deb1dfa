"""Aesthetic ranking: 20 real photos x 8 degradations x 5 levels (800 degraded copies), written
independently of the scorer.

How it was made
---------------
Written for issue 16 without reading the scorer (``understanding/aesthetics.py`` beyond its
public names), its training data or the project's photo set builder. The 20 originals are real
pictures that install offline (`PHOTOS`: opencv-doc samples, scikit-image and scikit-learn
images, one Megamind.avi frame), each with a hand-drawn box around its subject, drawn by looking
at the picture before any degradation was written. Originals are limited to 512 px a side.

Degradations (`KINDS`), each at levels 1 (mild) to 5 (severe), parameters in `PARAMS`:

- ``bad_crop``: a crop, same aspect as the original and kept at its native resolution (no
  upscaling), that leaves 10/25/40/55/70 % of the subject box's area outside; the largest such
  window (within 2 points of the target, scale >= 0.4) that keeps the subject's base and
  cuts through its top or sides is used where one exists, nearest the subject's centre.
  ``params['cut']`` is the exact fraction cut;
- ``clipped_highlights``: mid-tones untouched, the brightest 3/8/15/25/38 % of pixels (by their
  brightest channel) pushed to 255 through a knee curve (the share counts pixels not saturated already).
  ``params['clipped']``: the share of all pixels at 255 afterwards;
- ``overexposure``: +0.6/+1.1/+1.6/+2.1/+2.8 EV in linear light (sRGB gamma 2.2), clipped;
- ``underexposure``: -0.8/-1.4/-2/-2.7/-3.5 EV likewise;
- ``blur``: Gaussian, sigma 1/1.8/2.8/4.2/6 px at 512 px (scaled with the picture);
- ``noise``: additive Gaussian, sigma 6/12/20/32/48 grey levels, independent per channel;
- ``jpeg``: re-encoded at quality 45/28/16/9/4;
- ``low_contrast``: pulled toward the picture's mean colour, contrast 0.72/0.52/0.38/0.27/0.18.

The expected order within one (photo, kind) is original > level 1 > ... > level 5; every
degraded copy should score below its original. Cases are built lazily (`iter_cases`), about
10 ms each; `COUNT` = 800.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import cv2
import numpy as np

from creativeloop.datasets.test_sets._media import Image, photo, rng

SEED = 16_003
LEVELS: tuple[int, ...] = (1, 2, 3, 4, 5)
KINDS: tuple[str, ...] = (
    "bad_crop",
    "clipped_highlights",
    "overexposure",
    "underexposure",
    "blur",
    "noise",
    "jpeg",
    "low_contrast",
)
PARAMS: dict[str, tuple[float, ...]] = {
    "bad_crop": (0.10, 0.25, 0.40, 0.55, 0.70),
    "clipped_highlights": (0.03, 0.08, 0.15, 0.25, 0.38),
    "overexposure": (0.6, 1.1, 1.6, 2.1, 2.8),
    "underexposure": (-0.8, -1.4, -2.0, -2.7, -3.5),
    "blur": (1.0, 1.8, 2.8, 4.2, 6.0),
    "noise": (6.0, 12.0, 20.0, 32.0, 48.0),
    "jpeg": (45, 28, 16, 9, 4),
    "low_contrast": (0.72, 0.52, 0.38, 0.27, 0.18),
}

#: (source, subject box x0, y0, x1, y1 as fractions), boxes drawn by hand on each picture.
PHOTOS: tuple[tuple[str, tuple[float, float, float, float]], ...] = (
    ("cv:apple.jpg", (0.08, 0.10, 0.91, 0.97)),
    ("cv:butterfly.jpg", (0.01, 0.05, 0.99, 0.88)),
    ("cv:squirrel_cls.jpg", (0.26, 0.27, 0.67, 0.85)),
    ("cv:orange.jpg", (0.07, 0.10, 0.90, 0.98)),
    ("cv:messi5.jpg", (0.12, 0.10, 0.83, 0.99)),
    ("cv:HappyFish.jpg", (0.10, 0.02, 1.00, 1.00)),
    ("cv:aloeL.jpg", (0.42, 0.00, 1.00, 0.99)),
    ("cv:home.jpg", (0.57, 0.03, 1.00, 1.00)),
    ("cv:left.jpg", (0.13, 0.27, 0.66, 0.83)),
    ("cv:baboon.jpg", (0.05, 0.00, 0.95, 1.00)),
    ("sk:astronaut", (0.03, 0.02, 0.72, 1.00)),
    ("sk:chelsea", (0.15, 0.00, 0.90, 1.00)),
    ("sk:coffee", (0.12, 0.03, 0.80, 0.98)),
    ("sk:rocket", (0.46, 0.29, 0.55, 0.99)),
    ("sk:stereo_motorcycle", (0.02, 0.35, 0.90, 1.00)),
    ("skl:china.jpg", (0.09, 0.06, 0.56, 1.00)),
    ("skl:flower.jpg", (0.25, 0.08, 0.71, 0.84)),
    ("cv:building.jpg", (0.15, 0.00, 1.00, 0.85)),
    ("cv:fruits.jpg", (0.15, 0.10, 0.68, 0.98)),
    ("video:Megamind.avi@215", (0.22, 0.05, 0.78, 1.00)),
)
COUNT = len(PHOTOS) * len(KINDS) * len(LEVELS)


@dataclass(frozen=True)
class AestheticsPhoto:
    photo_id: str
    source: str
    image: Image
    #: Subject box in pixels (x, y, w, h).
    subject: tuple[int, int, int, int]


@dataclass(frozen=True)
class AestheticsCase:
    case_id: str
    photo_id: str
    kind: str
    level: int
    image: Image
    params: dict[str, Any] = field(default_factory=dict)

    def to_label(self) -> dict[str, Any]:
        return {
            "id": self.case_id,
            "photo": self.photo_id,
            "kind": self.kind,
            "level": self.level,
            "width": int(self.image.shape[1]),
            "height": int(self.image.shape[0]),
            "params": self.params,
        }


@lru_cache(maxsize=32)
def _original(index: int) -> AestheticsPhoto:
    source, (x0, y0, x1, y1) = PHOTOS[index]
    image = photo(source, max_side=512)
    h, w = image.shape[:2]
    box = (round(x0 * w), round(y0 * h), round((x1 - x0) * w), round((y1 - y0) * h))
    return AestheticsPhoto(f"ae{index:02d}", source, image, box)


def original(index: int) -> AestheticsPhoto:
    """Original photo `index` (0..19) with its subject box."""
    p = _original(index)
    return AestheticsPhoto(p.photo_id, p.source, p.image.copy(), p.subject)


def originals() -> list[AestheticsPhoto]:
    return [original(i) for i in range(len(PHOTOS))]


def _to_linear(image: Image) -> np.ndarray[Any, np.dtype[np.float32]]:
    return np.asarray((image.astype(np.float32) / 255.0) ** 2.2, dtype=np.float32)


def _from_linear(linear: np.ndarray[Any, np.dtype[np.float32]]) -> Image:
    out = np.clip(linear, 0, 1) ** (1 / 2.2) * 255.0 + 0.5
    return np.asarray(np.clip(out, 0, 255), dtype=np.uint8)


def _bad_crop(p: AestheticsPhoto, target: float) -> tuple[Image, dict[str, Any]]:
    h, w = p.image.shape[:2]
    sx, sy, sw, sh = p.subject
    area = float(sw * sh)
    # First pass: windows that keep the subject's base and cut through its top or sides (a
    # trimmed base alone can look like a fine tight crop); second pass: any window.
    for keep_base in (True, False):
        for s in np.arange(0.95, 0.39, -0.01):
            cw, ch = round(w * s), round(h * s)
            xs = np.linspace(0, w - cw, 41).round().astype(int)
            ys = np.linspace(0, h - ch, 41).round().astype(int)
            X, Y = np.meshgrid(xs, ys)
            ix = np.clip(np.minimum(X + cw, sx + sw) - np.maximum(X, sx), 0, None)
            iy = np.clip(np.minimum(Y + ch, sy + sh) - np.maximum(Y, sy), 0, None)
            cut = 1.0 - ix * iy / area
            err = np.abs(cut - target)
            ok = err <= 0.02
            if keep_base:
                ok &= Y + ch >= sy + sh
            if not ok.any():
                continue
            dist = np.hypot(X + cw / 2 - (sx + sw / 2), Y + ch / 2 - (sy + sh / 2))
            # Closest to the target first, then nearest the subject's centre.
            key = np.where(ok, np.round(err, 3) * 1e6 + dist, np.inf)
            k = int(np.argmin(key))
            x, y = int(X.flat[k]), int(Y.flat[k])
            crop = np.ascontiguousarray(p.image[y : y + ch, x : x + cw])
            params = {
                "cut": round(float(cut.flat[k]), 4),
                "window": [x, y, cw, ch],
                "scale": round(float(s), 2),
            }
            return crop, params
    raise ValueError(f"{p.photo_id}: no crop cuts {target:.2f} of the subject")


def _clip_highlights(image: Image, fraction: float) -> tuple[Image, dict[str, Any]]:
    bright = image.max(axis=2).astype(np.float32)
    # The share is of the pixels not already saturated (a white backdrop is clipped already).
    unsaturated = bright[bright < 250]
    t = float(np.quantile(unsaturated if unsaturated.size else bright, 1 - fraction))
    t = max(t, 40.0)
    knee = 0.6 * t
    x = image.astype(np.float32)
    y = np.where(x <= knee, x, knee + (x - knee) * (255.0 - knee) / max(t - knee, 1e-3))
    out = np.clip(y + 0.5, 0, 255).astype(np.uint8)
    clipped = float((out.max(axis=2) == 255).mean())
    return out, {"threshold": round(t, 1), "clipped": round(clipped, 4)}


def degrade(index: int, kind: str, level: int) -> AestheticsCase:
    """Photo `index` degraded by `kind` at `level` (1..5)."""
    if kind not in PARAMS or level not in LEVELS:
        raise ValueError(f"unknown degradation {kind!r} level {level}")
    p = _original(index)
    value = PARAMS[kind][level - 1]
    image = p.image
    params: dict[str, Any] = {"value": value}
    scale = max(image.shape[:2]) / 512.0
    if kind == "bad_crop":
        out, extra = _bad_crop(p, float(value))
        params.update(extra)
    elif kind == "clipped_highlights":
        out, extra = _clip_highlights(image, float(value))
        params.update(extra)
    elif kind in ("overexposure", "underexposure"):
        out = _from_linear(_to_linear(image) * np.float32(2.0**value))
    elif kind == "blur":
        out = np.asarray(cv2.GaussianBlur(image, (0, 0), float(value) * scale), dtype=np.uint8)
    elif kind == "noise":
        r = rng(SEED, "noise", index, level)
        noisy = image.astype(np.float32) + r.normal(0.0, float(value), image.shape).astype(np.float32)
        out = np.clip(noisy + 0.5, 0, 255).astype(np.uint8)
    elif kind == "jpeg":
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(value)])
        if not ok:
            raise ValueError("JPEG encoding failed")
        decoded = cv2.imdecode(data, cv2.IMREAD_COLOR)
        out = np.asarray(decoded, dtype=np.uint8)
    else:  # low_contrast
        mean = image.reshape(-1, 3).mean(axis=0).astype(np.float32)
        out = np.clip(mean + (image.astype(np.float32) - mean) * np.float32(value) + 0.5, 0, 255).astype(
            np.uint8
        )
    return AestheticsCase(
        f"{p.photo_id}-{kind}-{level}", p.photo_id, kind, level, np.ascontiguousarray(out), params
    )


def iter_cases(
    photos: Iterable[int] | None = None,
    kinds: Iterable[str] | None = None,
    levels: Iterable[int] | None = None,
) -> Iterator[AestheticsCase]:
    """Degraded copies, lazily, photo by photo then kind then level."""
    kind_list = list(KINDS if kinds is None else kinds)
    level_list = list(LEVELS if levels is None else levels)
    for index in range(len(PHOTOS)) if photos is None else photos:
        for kind in kind_list:
            for level in level_list:
                yield degrade(index, kind, level)


def build(
    photos: Iterable[int] | None = None,
    kinds: Iterable[str] | None = None,
    levels: Iterable[int] | None = None,
) -> list[AestheticsCase]:
    """All of `iter_cases` in a list (800 pictures, ~300 MB for all: prefer `iter_cases`)."""
    return list(iter_cases(photos, kinds, levels))
