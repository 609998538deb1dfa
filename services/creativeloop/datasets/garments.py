"""Procedural product pictures: a shaded garment silhouette on a light plain background.

These are stand-ins, not photographs: no real product photos ship offline, so the sample
catalogue draws one picture per product with OpenCV from what its reviews say (garment kind,
colour, material, look). Drawing is deterministic: the same arguments give the same PNG bytes.

Each silhouette is a list of closed outlines in unit coordinates (x right, y down, centre 0.5),
drawn 2x supersampled and smoothed by corner cutting, then shaded from the mask's distance
transform (edges darker, like cloth turning away from the light), given a light direction,
soft folds, a texture for the material or print, seams, an outline and a drop shadow.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np
import numpy.typing as npt

SIZE = 600
_SS = 4  # supersampling of the silhouette mask, for smooth edges
_W = SIZE

Outline = list[tuple[float, float]]
FloatImage = npt.NDArray[np.float32]

#: RGB of the colour words the catalogue may pick (and two defaults).
PALETTE: dict[str, tuple[int, int, int]] = {
    "Black": (34, 34, 38),
    "White": (242, 241, 236),
    "Ivory": (238, 232, 214),
    "Cream": (240, 228, 200),
    "Beige": (215, 196, 164),
    "Tan": (196, 160, 118),
    "Camel": (186, 142, 92),
    "Brown": (110, 74, 50),
    "Grey": (140, 140, 144),
    "Charcoal": (68, 70, 76),
    "Navy": (36, 48, 92),
    "Blue": (62, 104, 178),
    "Indigo": (52, 72, 120),
    "Teal": (28, 118, 124),
    "Turquoise": (56, 178, 180),
    "Aqua": (110, 200, 205),
    "Mint": (160, 220, 190),
    "Green": (58, 132, 76),
    "Olive": (112, 112, 56),
    "Emerald": (20, 120, 84),
    "Sage": (150, 168, 136),
    "Yellow": (236, 200, 64),
    "Mustard": (206, 160, 40),
    "Gold": (204, 164, 72),
    "Orange": (228, 124, 48),
    "Rust": (170, 80, 44),
    "Coral": (240, 120, 104),
    "Peach": (246, 178, 146),
    "Pink": (232, 150, 172),
    "Blush": (236, 190, 186),
    "Red": (186, 36, 44),
    "Burgundy": (112, 26, 42),
    "Wine": (118, 32, 52),
    "Maroon": (104, 30, 36),
    "Purple": (104, 62, 140),
    "Lavender": (182, 160, 214),
    "Plum": (110, 50, 88),
    "Silver": (186, 188, 194),
    "Taupe": (150, 132, 118),
    "Khaki": (190, 176, 130),
}
BACKGROUND_RGB = (244, 243, 239)
#: For white and near-white garments: still light and plain, but dark enough to see the garment.
BACKGROUND_FOR_LIGHT_RGB = (150, 156, 164)

_KNIT = {"Knit", "Ribbed", "Cable-Knit", "Chunky", "Cashmere", "Wool", "Ponte", "Jersey", "Fleece", "Sherpa"}
_LACE = {"Lace", "Eyelet", "Crochet", "Mesh", "Tulle"}
_SHEEN = {"Silk", "Satin", "Velvet", "Chiffon", "Metallic", "Sequin", "Leather", "Suede"}
_PRINT = {"Floral", "Printed", "Paisley", "Embroidered"}


# --------------------------------------------------------------------------- outlines


def _mirror(right: Outline) -> Outline:
    """A symmetric closed outline from its right half (centre top ... centre bottom)."""
    left = [(1.0 - x, y) for x, y in reversed(right) if abs(x - 0.5) > 1e-9]
    return right + left


def _sleeve(
    shoulder: tuple[float, float], armpit: tuple[float, float], angle_deg: float, length: float, cuff: float
) -> tuple[Outline, Outline]:
    """Right and left sleeve: from the shoulder seam, `length` long at `angle_deg` below horizontal."""
    mx, my = (shoulder[0] + armpit[0]) / 2, (shoulder[1] + armpit[1]) / 2
    dx, dy = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    cx, cy = mx + dx * length, my + dy * length
    px, py = -dy * cuff, dx * cuff
    right = [shoulder, (cx - px, cy - py), (cx + px, cy + py), armpit]
    left = [(1.0 - x, y) for x, y in reversed(right)]
    return right, left


def _top_body(
    hem: float,
    shoulder: float = 0.665,
    chest: float = 0.67,
    waist: float = 0.655,
    hem_w: float = 0.67,
    neck: float = 0.56,
    neck_depth: float = 0.20,
    top: float = 0.14,
    armpit: float = 0.31,
) -> tuple[Outline, tuple[float, float], tuple[float, float]]:
    right = [
        (0.5, neck_depth),
        (neck - 0.022, neck_depth - 0.008),
        (neck - 0.006, top + 0.012),
        (neck, top - 0.012),
        (neck + 0.012, top - 0.012),
        (shoulder, top + 0.025),
        (chest, armpit),
        (waist, (armpit + hem) / 2 + 0.04),
        (hem_w, hem),
        (0.5, hem + 0.006),
    ]
    return _mirror(right), (shoulder, top + 0.025), (chest, armpit)


def _pants(hem: float, hem_w: float, inner: float, waist: float = 0.14, hip: float = 0.665) -> Outline:
    right = [
        (0.5, waist),
        (0.64, waist),
        (hip, waist + 0.16),
        (hem_w, hem),
        (inner, hem),
        (0.512, waist + 0.27),
    ]
    return _mirror(right)


Silhouette = Callable[[np.random.Generator], tuple[list[Outline], list[Outline]]]
"""rng -> (filled outlines, detail polylines to draw as seams)."""


def _dress(
    rng: np.random.Generator, hem: float = 0.86, hem_w: float = 0.76
) -> tuple[list[Outline], list[Outline]]:
    waist_y = 0.40 + rng.uniform(-0.02, 0.02)
    hem_w += rng.uniform(-0.03, 0.03)
    right = [
        (0.5, 0.215),
        (0.535, 0.20),
        (0.55, 0.15),
        (0.55, 0.105),
        (0.60, 0.105),
        (0.625, 0.17),
        (0.64, 0.27),
        (0.605, waist_y),
        (0.63, waist_y + 0.08),
        (hem_w, hem),
        (0.63, hem + 0.02),
        (0.5, hem + 0.025),
    ]
    seams = [[(0.39, waist_y), (0.5, waist_y + 0.008), (0.61, waist_y)]]
    return [_mirror(right)], seams


def _maxi(rng: np.random.Generator) -> tuple[list[Outline], list[Outline]]:
    return _dress(rng, hem=0.93, hem_w=0.72)


def _tee(
    rng: np.random.Generator, sleeve: str = "short", hem: float = 0.80
) -> tuple[list[Outline], list[Outline]]:
    body, shoulder, armpit = _top_body(hem + rng.uniform(-0.02, 0.02))
    pieces = [body]
    if sleeve != "none":
        angle, length, cuff = {"short": (38, 0.13, 0.06), "3q": (62, 0.26, 0.05), "long": (70, 0.42, 0.045)}[
            sleeve
        ]
        pieces = [*_sleeve(shoulder, armpit, angle + rng.uniform(-4, 4), length, cuff), body]
    seams = [[(0.44, 0.128), (0.5, 0.20), (0.56, 0.128)]]
    return pieces, seams


def _tank(rng: np.random.Generator) -> tuple[list[Outline], list[Outline]]:
    hem = 0.80 + rng.uniform(-0.02, 0.02)
    right = [
        (0.5, 0.23),
        (0.54, 0.21),
        (0.55, 0.16),
        (0.55, 0.12),
        (0.595, 0.12),
        (0.615, 0.22),
        (0.645, 0.31),
        (0.64, 0.55),
        (0.66, hem),
        (0.5, hem + 0.006),
    ]
    return [_mirror(right)], []


def _blouse(rng: np.random.Generator) -> tuple[list[Outline], list[Outline]]:
    pieces, seams = _tee(rng, sleeve="3q", hem=0.78)
    placket = [(0.5, 0.20), (0.5, 0.78)]
    return pieces, [*seams, placket]


def _sweater(rng: np.random.Generator) -> tuple[list[Outline], list[Outline]]:
    pieces, seams = _tee(rng, sleeve="long", hem=0.76)
    band = [(0.34, 0.73), (0.66, 0.73)]
    return pieces, [*seams, band]


def _cardigan(rng: np.random.Generator) -> tuple[list[Outline], list[Outline]]:
    pieces, _ = _tee(rng, sleeve="long", hem=0.80)
    opening = [[(0.47, 0.14), (0.5, 0.36), (0.5, 0.80)]]
    return pieces, opening


def _jacket(rng: np.random.Generator, hem: float = 0.72) -> tuple[list[Outline], list[Outline]]:
    body, shoulder, armpit = _top_body(
        hem + rng.uniform(-0.02, 0.02), shoulder=0.675, chest=0.675, waist=0.66
    )
    sleeves = _sleeve(shoulder, armpit, 72 + rng.uniform(-3, 3), 0.42, 0.05)
    lapels = [[(0.45, 0.125), (0.5, 0.38), (0.55, 0.125)], [(0.5, 0.38), (0.5, hem)]]
    return [*sleeves, body], lapels


def _coat(rng: np.random.Generator) -> tuple[list[Outline], list[Outline]]:
    return _jacket(rng, hem=0.90)


def _vest(rng: np.random.Generator) -> tuple[list[Outline], list[Outline]]:
    right = [
        (0.5, 0.36),
        (0.545, 0.14),
        (0.55, 0.12),
        (0.60, 0.12),
        (0.615, 0.22),
        (0.65, 0.31),
        (0.655, 0.55),
        (0.66, 0.76),
        (0.5, 0.77),
    ]
    return [_mirror(right)], [[(0.5, 0.36), (0.5, 0.77)]]


def _poncho(rng: np.random.Generator) -> tuple[list[Outline], list[Outline]]:
    hem = 0.66 + rng.uniform(-0.02, 0.02)
    right = [
        (0.5, 0.19),
        (0.535, 0.18),
        (0.55, 0.13),
        (0.60, 0.15),
        (0.80, hem - 0.06),
        (0.82, hem),
        (0.5, hem + 0.12),
    ]
    fringe = []
    for x in np.linspace(0.2, 0.8, 25):
        y = hem + 0.12 * (1 - abs(float(x) - 0.5) / 0.32)
        fringe.append([(float(x), y), (float(x), y + 0.05)])
    return [_mirror(right)], fringe


def _pants_shape(
    rng: np.random.Generator, hem: float = 0.90, hem_w: float = 0.665, inner: float = 0.535
) -> tuple[list[Outline], list[Outline]]:
    hem_w += rng.uniform(-0.01, 0.01)
    legs = _pants(hem, hem_w, inner)
    seams = [[(0.36, 0.19), (0.64, 0.19)], [(0.5, 0.19), (0.5, 0.33)]]
    return [legs], seams


def _jeans(rng: np.random.Generator) -> tuple[list[Outline], list[Outline]]:
    pieces, seams = _pants_shape(rng, hem=0.91, hem_w=0.625, inner=0.535)
    pockets = [[(0.38, 0.20), (0.43, 0.27), (0.46, 0.20)], [(0.62, 0.20), (0.57, 0.27), (0.54, 0.20)]]
    return pieces, [*seams, *pockets]


def _shorts(rng: np.random.Generator) -> tuple[list[Outline], list[Outline]]:
    return _pants_shape(rng, hem=0.56, hem_w=0.71, inner=0.515)


def _skirt(rng: np.random.Generator) -> tuple[list[Outline], list[Outline]]:
    hem = 0.74 + rng.uniform(-0.03, 0.03)
    right = [
        (0.5, 0.18),
        (0.625, 0.18),
        (0.635, 0.25),
        (0.75 + rng.uniform(-0.03, 0.03), hem),
        (0.5, hem + 0.02),
    ]
    return [_mirror(right)], [[(0.375, 0.23), (0.625, 0.23)]]


def _jumpsuit(rng: np.random.Generator) -> tuple[list[Outline], list[Outline]]:
    top = [
        (0.5, 0.21),
        (0.54, 0.19),
        (0.55, 0.14),
        (0.55, 0.10),
        (0.60, 0.10),
        (0.625, 0.19),
        (0.645, 0.30),
        (0.64, 0.40),
        (0.5, 0.40),
    ]
    legs = _pants(0.94, 0.67, 0.53, waist=0.38)
    return [_mirror(top), legs], [[(0.36, 0.40), (0.64, 0.40)]]


def _swimsuit(rng: np.random.Generator) -> tuple[list[Outline], list[Outline]]:
    right = [
        (0.5, 0.24),
        (0.54, 0.22),
        (0.55, 0.16),
        (0.55, 0.12),
        (0.59, 0.12),
        (0.625, 0.26),
        (0.615, 0.42),
        (0.60, 0.52),
        (0.635, 0.62),
        (0.565, 0.72),
        (0.5, 0.74),
    ]
    return [_mirror(right)], []


SILHOUETTES: dict[str, Silhouette] = {
    "dress": _dress,
    "maxi": _maxi,
    "tee": _tee,
    "tank": _tank,
    "blouse": _blouse,
    "sweater": _sweater,
    "cardigan": _cardigan,
    "jacket": _jacket,
    "coat": _coat,
    "vest": _vest,
    "poncho": _poncho,
    "pants": _pants_shape,
    "jeans": _jeans,
    "shorts": _shorts,
    "skirt": _skirt,
    "jumpsuit": _jumpsuit,
    "swimsuit": _swimsuit,
}


#: Horizontal stretch per silhouette (outlines are drawn narrow; this sets the garment's width).
_STRETCH = {
    "pants": 1.15,
    "jeans": 1.15,
    "shorts": 1.2,
    "skirt": 1.15,
    "jumpsuit": 1.15,
    "swimsuit": 1.2,
    "poncho": 1.0,
}


def _stretch(points: Outline, sx: float) -> Outline:
    return [(0.5 + (x - 0.5) * sx, y) for x, y in points]


def _chaikin(points: Outline, rounds: int = 3) -> Outline:
    """Round the corners of a closed outline by corner cutting (Chaikin 1974).

    Long edges are split first, so that corners round over a short distance and stay garment-like.
    """
    dense: Outline = []
    for i, (x0, y0) in enumerate(points):
        x1, y1 = points[(i + 1) % len(points)]
        steps = max(1, math.ceil(math.hypot(x1 - x0, y1 - y0) / 0.06))
        dense.extend((x0 + (x1 - x0) * k / steps, y0 + (y1 - y0) * k / steps) for k in range(steps))
    points = dense
    for _ in range(rounds):
        out: Outline = []
        for i, (x0, y0) in enumerate(points):
            x1, y1 = points[(i + 1) % len(points)]
            out.append((0.75 * x0 + 0.25 * x1, 0.75 * y0 + 0.25 * y1))
            out.append((0.25 * x0 + 0.75 * x1, 0.25 * y0 + 0.75 * y1))
        points = out
    return points


def _px(points: Outline, scale: int = 1) -> npt.NDArray[np.int32]:
    size = SIZE * scale
    return np.array([[round(x * size), round(y * size)] for x, y in points], dtype=np.int32)


# --------------------------------------------------------------------------- textures


def _background(colour: FloatImage) -> tuple[int, int, int]:
    """The backdrop for a garment of this colour (BGR 0..1, any shape): light, with contrast."""
    b, g, r = (float(c) for c in colour.reshape(-1, 3).mean(axis=0))
    return BACKGROUND_FOR_LIGHT_RGB if 0.114 * b + 0.587 * g + 0.299 * r > 0.8 else BACKGROUND_RGB


def _texture(
    material: str, look: str, base: FloatImage, mask: FloatImage, rng: np.random.Generator
) -> FloatImage:
    """Modulate the flat colour `base` (H x W x 3, 0..1) by the material's or the print's texture."""
    h, w = mask.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    out = base.copy()
    if material == "Denim":
        twill = 0.05 * np.sin((xx + yy) * (2 * np.pi / 4.0))
        noise = rng.normal(0.0, 0.035, size=(h // 2, w // 2)).astype(np.float32)
        noise = np.asarray(cv2.resize(noise, (w, h), interpolation=cv2.INTER_LINEAR), dtype=np.float32)
        out *= (1.0 + twill + noise)[..., None]
    elif material in _KNIT or look in _KNIT:
        period = 11.0 if (material == "Cable-Knit" or look in {"Chunky", "Cable-Knit"}) else 6.0
        out *= (1.0 + 0.06 * np.sin(xx * (2 * np.pi / period)))[..., None]
    if look == "Striped":
        stripes = (np.floor(yy / 22.0) % 2 == 1).astype(np.float32)[..., None]
        stripe_colour = np.float32(0.96) if base.mean() < 0.6 else np.float32(0.2)
        out = out * (1 - 0.8 * stripes) + stripe_colour * 0.8 * stripes
    elif look == "Plaid":
        lines = ((xx % 45) < 7) | ((yy % 45) < 7)
        thin = ((xx % 45 > 22) & (xx % 45 < 24)) | ((yy % 45 > 22) & (yy % 45 < 24))
        out *= np.where(lines, 0.72, np.where(thin, 1.25, 1.0)).astype(np.float32)[..., None]
    elif look in _PRINT:
        layer = np.zeros((h, w), dtype=np.float32)
        light = base.mean() < 0.55
        for _ in range(int(rng.integers(140, 190))):  # small five-petal flowers
            cx, cy = int(rng.integers(0, w)), int(rng.integers(0, h))
            r = int(rng.integers(5, 9))
            for k in range(5):
                a = k * 2 * np.pi / 5 + rng.uniform(0, 1)
                centre = (int(cx + r * np.cos(a)), int(cy + r * np.sin(a)))
                cv2.circle(layer, centre, r // 2 + 1, 1.0, -1, cv2.LINE_AA)
        petal = np.array([0.95, 0.93, 0.85] if light else [0.55, 0.25, 0.35], dtype=np.float32)
        out = out * (1 - 0.75 * layer[..., None]) + petal * 0.75 * layer[..., None]
    if material in _LACE:
        holes = np.zeros((h, w), dtype=np.float32)
        for y in range(0, h, 13):
            for x in range((y // 13) % 2 * 6, w, 13):
                cv2.circle(holes, (x, y), 3, 1.0, -1, cv2.LINE_AA)
        holes = np.asarray(cv2.GaussianBlur(holes, (0, 0), 0.6), dtype=np.float32)
        bg = np.array(_background(base)[::-1], dtype=np.float32) / 255.0
        # Lace lets the background through: strongest on the lower half of the garment.
        weight = (0.25 + 0.45 * np.clip((yy / h - 0.3) / 0.5, 0, 1)) * holes
        out = out * (1 - weight[..., None]) + bg * weight[..., None]
    if material == "Sequin" or look == "Metallic":
        sparkle = (rng.random((h // 2, w // 2)) > 0.985).astype(np.float32)
        sparkle = np.asarray(cv2.resize(sparkle, (w, h), interpolation=cv2.INTER_NEAREST), dtype=np.float32)
        out += 0.35 * cv2.GaussianBlur(sparkle, (0, 0), 0.8)[..., None]
    return np.clip(out, 0.0, 1.0)


# --------------------------------------------------------------------------- rendering


def _flare(points: Outline, y0: float, factor: float) -> Outline:
    """Widen (factor > 0) or narrow (< 0) an outline below `y0`, more towards the hem."""
    return [(0.5 + (x - 0.5) * (1 + factor * max(0.0, (y - y0) / (1 - y0))), y) for x, y in points]


def _shorten(points: Outline, y0: float, factor: float) -> Outline:
    return [(x, y0 + (y - y0) * factor if y > y0 else y) for x, y in points]


#: How a look or shape word changes the body piece: (flare below y, flare factor, shorten factor).
_CUT = {
    "Flowy": (0.42, 0.22, 1.0),
    "Swingy": (0.42, 0.25, 1.0),
    "Swing": (0.42, 0.28, 1.0),
    "A-Line": (0.30, 0.20, 1.0),
    "Tiered": (0.42, 0.18, 1.0),
    "Peplum": (0.50, 0.35, 1.0),
    "Fitted": (0.35, -0.18, 1.0),
    "Shift": (0.35, -0.08, 1.0),
    "Boxy": (0.30, 0.06, 0.94),
    "Oversized": (0.25, 0.10, 1.04),
    "Mini": (0.42, 0.05, 0.78),
    "Midi": (0.42, 0.0, 1.06),
    "Tunic": (0.40, 0.04, 1.12),
    "Wide-Leg": (0.30, 0.45, 1.0),
    "Flared": (0.55, 0.45, 1.0),
    "Skinny": (0.30, -0.20, 1.0),
    "Slim": (0.30, -0.12, 1.0),
    "Cropped": (0.14, 0.0, 0.82),
}


def render_garment(
    silhouette: str, colour: str, material: str = "", look: str = "", seed: int = 0, shape: str = ""
) -> bytes:
    """A 600x600 PNG of a `colour` garment of kind `silhouette` (see `SILHOUETTES`).

    `material` ("Denim", "Lace", "Knit", "Silk"...) and `look` ("Striped", "Floral", "Plaid"...)
    pick a texture; `look` and `shape` words with a cut ("Flowy", "Fitted", "Peplum", "Wide-Leg",
    "Cropped", "Mini"...) reshape the body; `seed` varies proportions, folds and print
    placement. Unknown silhouettes fall back to a tee, unknown colours to ivory.
    """
    rng = np.random.default_rng(seed)
    draw = SILHOUETTES.get(silhouette, _tee)
    pieces, seams = draw(rng)
    for word in (shape, look):
        if word in _CUT:
            y0, flare, shorten = _CUT[word]
            pieces[-1] = _shorten(_flare(pieces[-1], y0, flare), y0, shorten)
    sx = _STRETCH.get(silhouette, 1.28)
    pieces = [_stretch(p, sx) for p in pieces]
    seams = [_stretch(p, sx) for p in seams]
    rgb = PALETTE.get(colour, PALETTE["Ivory"])
    base_colour = np.array(rgb[::-1], dtype=np.float32) / 255.0

    big = np.zeros((_W * _SS, _W * _SS), dtype=np.uint8)
    big_back = np.zeros_like(big)  # sleeves and far pieces, a little darker
    for i, piece in enumerate(pieces):
        poly = _px(_chaikin(piece), _SS)
        cv2.fillPoly(big, [poly], 255)
        if len(pieces) > 1 and i < len(pieces) - 1:
            cv2.fillPoly(big_back, [poly], 255)
    mask = cv2.resize(big, (_W, _W), interpolation=cv2.INTER_AREA)
    back = cv2.resize(big_back, (_W, _W), interpolation=cv2.INTER_AREA)
    alpha = mask.astype(np.float32) / 255.0

    # Cloth turns away from the light at its edges: shade from the distance to the outline.
    dist = cv2.distanceTransform((mask > 127).astype(np.uint8), cv2.DIST_L2, 5)
    shade = 0.70 + 0.32 * (1.0 - np.exp(-dist / (0.035 * _W)))
    yy, xx = np.mgrid[0:_W, 0:_W].astype(np.float32) / _W
    shade *= 1.06 - 0.10 * (0.6 * xx + 0.4 * yy)  # light from the upper left
    folds = np.zeros((_W, _W), dtype=np.float32)
    for _ in range(int(rng.integers(4, 8))):
        x0 = rng.uniform(0.36, 0.64)
        cv2.line(
            folds,
            (int(x0 * _W), int(rng.uniform(0.35, 0.5) * _W)),
            (int((0.5 + (x0 - 0.5) * 1.6) * _W), int(0.95 * _W)),
            1.0,
            int(0.012 * _W),
            cv2.LINE_AA,
        )
    folds = np.asarray(cv2.GaussianBlur(folds, (0, 0), 0.012 * _W), dtype=np.float32)
    shade *= 1.0 - 0.16 * folds / max(float(folds.max()), 1e-6)
    shade *= 1.0 - 0.12 * (back.astype(np.float32) / 255.0) * (mask > 0)
    if material in _SHEEN or look == "Metallic":
        band = np.exp(-(((xx - 0.2 - yy * 0.5) / 0.06) ** 2))
        shade += 0.25 * band

    base = np.broadcast_to(base_colour, (_W, _W, 3)).astype(np.float32)
    base = _texture(material, look, base, alpha, rng)
    shade3 = shade[..., None]
    lit = np.where(shade3 <= 1.0, base * shade3, base + (1.0 - base) * (shade3 - 1.0))

    # Seams and the outline: a darker version of the garment's own colour.
    line_colour = np.clip(base_colour * 0.55, 0, 1)
    seam_layer = np.zeros((_W, _W), dtype=np.uint8)
    for seam in seams:
        cv2.polylines(seam_layer, [_px(seam)], False, 255, int(0.004 * _W) + 1, cv2.LINE_AA)
    edge = cv2.morphologyEx(mask, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    lines = np.maximum(seam_layer, edge).astype(np.float32)[..., None] / 255.0 * alpha[..., None]
    lit = lit * (1 - 0.7 * lines) + line_colour * 0.7 * lines

    bg = np.empty((_W, _W, 3), dtype=np.float32)
    bg[:] = np.array(_background(base_colour)[::-1], dtype=np.float32) / 255.0
    bg *= (1.0 - 0.035 * ((xx - 0.5) ** 2 + (yy - 0.5) ** 2))[..., None]  # faint vignette
    offset = np.array([[1, 0, 0.012 * _W], [0, 1, 0.018 * _W]], dtype=np.float32)
    shadow = cv2.warpAffine(alpha, offset, (_W, _W))
    shadow = cv2.GaussianBlur(shadow, (0, 0), 0.015 * _W)
    bg *= (1.0 - 0.22 * shadow)[..., None]

    image = lit * alpha[..., None] + bg * (1.0 - alpha[..., None])
    ok, png = cv2.imencode(".png", np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8))
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return png.tobytes()
