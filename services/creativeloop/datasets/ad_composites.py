"""Ad pictures with a known main product: the product-box tuning set for text, badges and shadows.

`creativeloop.datasets.cutouts` composites a cut-out alone on a background. Real ad pictures
add what a product box must leave out: copy and prices next to or over the product, badges
(a discount on a disc or a tag), drop shadows (soft or hard, offset), a smaller prop beside the
product, patterned grounds, and products cropped by the frame. This set draws all of those,
deterministically for a seed, and records the product's true mask (alpha >= 0.5, inside the
frame) and whether text was drawn, so `creativeloop eval product-box` can report the box with
and without text over the picture.

Cut-outs are `cutouts.CUTOUTS` (drawn garments, the matted plant, textured MPEG-7 shapes, the
horse, the OpenCV logo) and more drawn garments; copy and fonts come from
`creativeloop.datasets.ad_text`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
from PIL import Image as PILImage
from PIL import ImageDraw

from creativeloop.datasets.ad_text import (
    EN_COPY,
    ZH_COPY,
    ResolvedFont,
    load_font,
    pick_colour,
    resolve_fonts,
)
from creativeloop.datasets.cutouts import CUTOUTS, Cutout, background, garment_cutout
from creativeloop.understanding.product_box import Image

GROUNDS = ("plain", "gradient", "pattern", "texture", "photo")
PLACEMENTS = ("centre", "side", "cropped")
BADGES = ("-30%", "-50%", "SALE", "NEW", "HOT", "新品", "特价", "¥99", "2 for 1", "BEST")
PRICES = ("¥199", "¥59", "$29.99", "$49", "€24.50", "¥1299")
GARMENTS = (
    ("dress", "Teal", "", "Floral"),
    ("tee", "Black", "", ""),
    ("coat", "Navy", "Wool", ""),
    ("jeans", "Indigo", "Denim", ""),
    ("sweater", "Mustard", "Knit", ""),
    ("skirt", "Red", "", "Plaid"),
    ("shorts", "Khaki", "Denim", ""),
    ("blouse", "Pink", "Silk", ""),
)


@dataclass(frozen=True)
class AdCase:
    """One ad picture: the product's true mask (0/255, inside the frame) and what was drawn."""

    index: int
    cutout: str
    ground: str
    placement: str
    text: bool
    badge: bool
    shadow: str  # "none", "soft" or "hard"
    prop: bool
    image: Image
    mask: Image


@lru_cache(maxsize=1)
def _fonts() -> tuple[ResolvedFont, ...]:
    return tuple(resolve_fonts()[0])


@lru_cache(maxsize=32)
def _cutout(name: str) -> Cutout:
    if name.startswith("garment/"):
        silhouette, colour, material, look = name.split("/")[1:]
        return garment_cutout(silhouette, colour, material, look, seed=len(name))
    return CUTOUTS[name]()


def cutout_names() -> list[str]:
    return [*CUTOUTS, *("garment/" + "/".join(g) for g in GARMENTS)]


def pattern(rng: np.random.Generator, width: int, height: int) -> Image:
    """Stripes, checks or dots in two colours: a busy, regular ground."""
    a = rng.integers(40, 250, 3).astype(np.float32)
    b = np.clip(a + rng.choice([-1, 1]) * rng.uniform(40, 110), 0, 255).astype(np.float32)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    period = float(rng.uniform(12, 48))
    kind = int(rng.integers(0, 3))
    if kind == 0:
        angle = float(rng.uniform(0, math.pi))
        t = (xx * math.cos(angle) + yy * math.sin(angle)) / period
        on = (np.floor(t) % 2).astype(bool)
    elif kind == 1:
        on = ((np.floor(xx / period) + np.floor(yy / period)) % 2).astype(bool)
    else:
        cx, cy = xx % period - period / 2, yy % period - period / 2
        on = cx * cx + cy * cy < (period * 0.3) ** 2
    canvas = np.where(on[..., None], a, b)
    return np.asarray(cv2.GaussianBlur(canvas, (0, 0), 0.6), dtype=np.uint8)


def _ground(kind: str, width: int, height: int, rng: np.random.Generator) -> Image:
    if kind == "pattern":
        return pattern(rng, width, height)
    return background(kind, width, height, rng)


def _place(
    cut: Cutout, width: int, height: int, placement: str, rng: np.random.Generator
) -> tuple[int, int, int, int]:
    """(x0, y0, w, h) of the scaled cut-out; x0/y0 may be off the canvas for a cropped product."""
    ch, cw = cut.alpha.shape
    share = {
        "centre": rng.uniform(0.5, 0.72),
        "side": rng.uniform(0.42, 0.6),
        "cropped": rng.uniform(0.6, 0.85),
    }
    scale = min(share[placement] * height / ch, share[placement] * width / cw)
    w, h = max(8, round(cw * scale)), max(8, round(ch * scale))
    if placement == "centre":
        cx, cy = width * rng.uniform(0.45, 0.55), height * rng.uniform(0.45, 0.58)
    elif placement == "side":
        cx = width * (0.3 if rng.random() < 0.5 else 0.7)
        cy = height * rng.uniform(0.4, 0.6)
    else:  # cropped by one edge: 12-30 % of the product off the frame
        edge = int(rng.integers(0, 4))
        off = rng.uniform(0.12, 0.3)
        cx, cy = width * rng.uniform(0.4, 0.6), height * rng.uniform(0.4, 0.6)
        if edge == 0:
            cx = w * (0.5 - off)
        elif edge == 1:
            cx = width - w * (0.5 - off)
        elif edge == 2:
            cy = h * (0.5 - off)
        else:
            cy = height - h * (0.5 - off)
    return round(cx - w / 2), round(cy - h / 2), w, h


def _paste(canvas: np.ndarray, pixels: np.ndarray, alpha: np.ndarray, x0: int, y0: int) -> None:
    """Alpha-blend ``pixels`` (float BGR) at (x0, y0) into ``canvas`` (float), clipped to the frame."""
    height, width = canvas.shape[:2]
    h, w = alpha.shape
    xa, ya, xb, yb = max(0, x0), max(0, y0), min(width, x0 + w), min(height, y0 + h)
    if xa >= xb or ya >= yb:
        return
    a = alpha[ya - y0 : yb - y0, xa - x0 : xb - x0, None]
    region = canvas[ya:yb, xa:xb]
    canvas[ya:yb, xa:xb] = region * (1 - a) + pixels[ya - y0 : yb - y0, xa - x0 : xb - x0] * a


def _shadow(
    canvas: np.ndarray, alpha: np.ndarray, x0: int, y0: int, kind: str, rng: np.random.Generator
) -> None:
    """A soft cast shadow or a hard designer's drop shadow of ``alpha``, offset down and right."""
    h, w = alpha.shape
    side = max(h, w)
    if kind == "soft":
        dx, dy = round(side * rng.uniform(0.01, 0.04)), round(side * rng.uniform(0.02, 0.05))
        sigma = max(1.0, side * rng.uniform(0.02, 0.05))
        strength = rng.uniform(0.25, 0.45)
    else:
        dx, dy = round(side * rng.uniform(0.02, 0.06)), round(side * rng.uniform(0.02, 0.06))
        sigma = max(0.8, side * 0.006)
        strength = rng.uniform(0.3, 0.55)
    pad = int(3 * sigma) + 1
    shade = cv2.GaussianBlur(
        cv2.copyMakeBorder(alpha, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0), (0, 0), sigma
    )
    shade = np.asarray(shade, np.float32) * strength
    _paste(canvas, np.zeros((*shade.shape, 3), np.float32), shade, x0 + dx - pad, y0 + dy - pad)


def _draw_text(
    image: PILImage.Image,
    rng: np.random.Generator,
    box: tuple[int, int, int, int],
    light_ground: bool,
) -> None:
    """Two to four lines of copy in the free part of the picture (``box``: product x0, y0, x1, y1)."""
    width, height = image.size
    draw = ImageDraw.Draw(image)
    fonts = list(_fonts())
    if not fonts:
        return
    x0, y0, x1, y1 = box
    spaces = [
        (0, 0, width, max(0, y0)),  # above
        (0, min(height, y1), width, height),  # below
        (0, 0, max(0, x0), height),  # left
        (min(width, x1), 0, width, height),  # right
    ]
    spaces = [s for s in spaces if (s[2] - s[0]) > width * 0.25 and (s[3] - s[1]) > height * 0.12]
    overlap = rng.random() < 0.3 or not spaces
    if overlap:  # copy over the picture, part of it over the product
        region = (round(width * 0.05), round(height * rng.uniform(0.05, 0.6)), round(width * 0.95), height)
    else:
        region = spaces[int(rng.integers(0, len(spaces)))]
    lines = int(rng.integers(1, 4))
    zh = rng.random() < 0.5
    copy = ZH_COPY if zh else EN_COPY
    y = region[1] + (region[3] - region[1]) * 0.08
    for k in range(lines):
        text = (
            copy[int(rng.integers(0, len(copy)))]
            if k < lines - 1 or rng.random() < 0.5
            else str(rng.choice(PRICES))
        )
        cjk = any(ord(ch) > 0x2E80 for ch in text)
        choices = [f for f in fonts if f.spec.cjk or not cjk] or fonts
        font = choices[int(rng.integers(0, len(choices)))]
        px = round(height * (rng.uniform(0.06, 0.1) if k == 0 else rng.uniform(0.035, 0.06)))
        face = load_font(font, px)
        room = region[2] - region[0] - width * 0.04
        while px > 12 and draw.textlength(text, font=face) > room:
            px = int(px * 0.9)
            face = load_font(font, px)
        if y + px > height * 0.97:
            break
        x = region[0] + width * 0.02 + rng.uniform(0, max(1.0, room - draw.textlength(text, font=face)))
        colour = pick_colour(rng, not light_ground)
        draw.text((x, y), text, font=face, fill=(colour[2], colour[1], colour[0]))
        y += px * rng.uniform(1.3, 1.7)


def _draw_badge(image: PILImage.Image, rng: np.random.Generator, box: tuple[int, int, int, int]) -> None:
    """A disc or a tag with a short word, at a corner of the product (often over its edge)."""
    width, height = image.size
    x0, y0, x1, y1 = box
    draw = ImageDraw.Draw(image)
    fonts = list(_fonts())
    side = round(min(width, height) * rng.uniform(0.12, 0.2))
    corner = int(rng.integers(0, 4))
    cx = (x1 if corner in (1, 3) else x0) + rng.uniform(-0.3, 0.5) * side * (1 if corner in (1, 3) else -1)
    cy = (y1 if corner in (2, 3) else y0) + rng.uniform(-0.3, 0.5) * side * (1 if corner in (2, 3) else -1)
    cx = float(np.clip(cx, side / 2 + 2, width - side / 2 - 2))
    cy = float(np.clip(cy, side / 2 + 2, height - side / 2 - 2))
    fill = tuple(int(v) for v in rng.integers(0, 256, 3))
    shape = (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
    if rng.random() < 0.6:
        draw.ellipse(shape, fill=fill)
    else:
        draw.rounded_rectangle(
            (shape[0], cy - side * 0.3, shape[2], cy + side * 0.3), radius=side // 8, fill=fill
        )
    if not fonts:
        return
    text = str(rng.choice(BADGES))
    cjk = any(ord(ch) > 0x2E80 for ch in text)
    choices = [f for f in fonts if f.spec.cjk or not cjk] or fonts
    font = choices[int(rng.integers(0, len(choices)))]
    px = round(side * 0.34)
    face = load_font(font, px)
    while px > 10 and draw.textlength(text, font=face) > side * 0.8:
        px = int(px * 0.9)
        face = load_font(font, px)
    light = 0.299 * fill[0] + 0.587 * fill[1] + 0.114 * fill[2] > 140
    left, top, right, bottom = draw.textbbox((0, 0), text, font=face)
    draw.text(
        (cx - (right - left) / 2 - left, cy - (bottom - top) / 2 - top),
        text,
        font=face,
        fill=(20, 20, 20) if light else (250, 250, 250),
    )


def ad_case(index: int, seed: int = 2026) -> AdCase:
    """Case ``index`` of the set: the same pixels every time."""
    rng = np.random.default_rng([seed, index])
    names = cutout_names()
    name = names[index % len(names)]
    ground = GROUNDS[(index // len(names)) % len(GROUNDS)]
    placement = PLACEMENTS[int(rng.integers(0, len(PLACEMENTS)))]
    width, height = [(640, 640), (800, 600), (600, 800), (900, 500)][int(rng.integers(4))]
    canvas = _ground(ground, width, height, rng).astype(np.float32)
    cut = _cutout(name)
    x0, y0, w, h = _place(cut, width, height, placement, rng)
    pixels = cv2.resize(cut.bgr, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
    alpha = np.asarray(cv2.resize(cut.alpha, (w, h), interpolation=cv2.INTER_AREA), np.float32)
    prop = rng.random() < 0.25
    if prop:  # a smaller object beside the product: not the product
        other = _cutout(names[int(rng.integers(0, len(names)))])
        ps = max(12, round(max(w, h) * rng.uniform(0.2, 0.35)))
        scale = ps / max(other.alpha.shape)
        pw, ph = max(4, round(other.alpha.shape[1] * scale)), max(4, round(other.alpha.shape[0] * scale))
        px = x0 + w + round(ps * 0.2) if x0 + w + ps < width else x0 - ps
        py = y0 + h - ph
        prop_pixels = cv2.resize(other.bgr, (pw, ph), interpolation=cv2.INTER_AREA).astype(np.float32)
        prop_alpha = np.asarray(cv2.resize(other.alpha, (pw, ph), interpolation=cv2.INTER_AREA), np.float32)
        _paste(canvas, prop_pixels, prop_alpha, px, py)
    shadow = str(rng.choice(["none", "soft", "hard"], p=[0.3, 0.35, 0.35]))
    if shadow != "none":
        _shadow(canvas, alpha, x0, y0, shadow, rng)
    _paste(canvas, pixels, alpha, x0, y0)
    mask_alpha = np.zeros((height, width), np.float32)
    xa, ya, xb, yb = max(0, x0), max(0, y0), min(width, x0 + w), min(height, y0 + h)
    mask_alpha[ya:yb, xa:xb] = alpha[ya - y0 : yb - y0, xa - x0 : xb - x0]
    mask = np.where(mask_alpha >= 0.5, 255, 0).astype(np.uint8)
    image = PILImage.fromarray(
        cv2.cvtColor(np.clip(canvas + 0.5, 0, 255).astype(np.uint8), cv2.COLOR_BGR2RGB)
    )
    light_ground = float(np.mean(canvas)) > 128
    product_box = (max(0, x0), max(0, y0), min(width, x0 + w), min(height, y0 + h))
    text = rng.random() < 0.7
    if text:
        _draw_text(image, rng, product_box, light_ground)
    badge = rng.random() < 0.4
    if badge:
        _draw_badge(image, rng, product_box)
    bgr = np.asarray(cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR), dtype=np.uint8)
    return AdCase(index, name, ground, placement, text, badge, shadow, prop, bgr, mask)


def build_ad_cases(count: int, seed: int = 2026, indices: Sequence[int] | None = None) -> Iterator[AdCase]:
    """``count`` cases (or the given ``indices``); grounds cycle over every cut-out."""
    for index in indices if indices is not None else range(count):
        yield ad_case(index, seed)
