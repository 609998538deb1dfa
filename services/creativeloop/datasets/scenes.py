"""The scene set: a labelled set of ad-picture kinds built from real and composited images.

No labelled set of ad-picture kinds ships offline, so one is built, deterministically, from real
photos that install with packages (Debian ``opencv-doc`` samples and videos, ``scikit-image`` and
``scikit-learn`` sample images) and from the demo's procedural garments:

- *plain product*: a garment, a plant cut out with its alpha matte, or a fruit cut out, on a plain
  or gently graded background; real plain-background pictures (sweets, a cartoon, a silhouette);
- *lifestyle*: the same products composited over a real photo (blurred a little, as a shallow
  depth of field would), and real scenes as they are;
- *person*: crops around the people in real photos and animated-film frames, flipped and tinted;
- *detail close-up*: tight crops of fabric (garment textures) and of real surfaces;
- *text poster*: ad copy rendered large over solid, gradient, noisy or photo backgrounds, with or
  without a small product;
- *collage*: 2-9 tiles of the other kinds in grid layouts, with or without gutters.

Real photos are split **by photo** (and film shot) between train and test, so the test figures
are on pictures the model never saw in any form; garments and posters use disjoint seeds.
`creativeloop train scene` trains the scene combiner on the train split
(`creativeloop.training.scene`), `creativeloop eval scene` measures it on the test split, and
`creativeloop train scene-samples` writes a few pictures of each kind to look at.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from creativeloop.datasets.ad_layouts import render_layout
from creativeloop.datasets.ad_text import (
    EN_COPY,
    ZH_COPY,
    ResolvedFont,
    backdrop,
    load_font,
    pick_colour,
    resolve_fonts,
)
from creativeloop.datasets.garments import PALETTE, render_garment
from creativeloop.datasets.photos import photo_path, read_photo
from creativeloop.understanding.scene import CLASSES, Floats, Pixels, SceneClass

TRAIN, TEST = "train", "test"
SPLITS = (TRAIN, TEST)
#: Images per class and split in the default set.
COUNTS = {TRAIN: 150, TEST: 40}
SEED = 20261101


# -- sources ------------------------------------------------------------------------------------


def _frames(video: str, first: int, last: int, step: int) -> tuple[str, ...]:
    return tuple(f"{video}@{k}" for k in range(first, last, step))


_MEGAMIND = "opencv-doc:data/Megamind.avi"
#: Real photos per role and split (split by photo; film frames by shot).
SOURCES: dict[str, dict[str, tuple[str, ...]]] = {
    "backdrop": {
        TRAIN: (
            "opencv-doc:data/home.jpg",
            "opencv-doc:data/building.jpg",
            "opencv-doc:data/aero1.jpg",
            "opencv-doc:data/leuvenA.jpg",
            "opencv-doc:hfs/data/001.jpg",
            "opencv-doc:data/box_in_scene.png",
            "opencv-doc:data/stuff.jpg",
            "opencv-doc:data/rubberwhale1.png",
            "opencv-doc:data/squirrel_cls.jpg",
            "opencv-doc:text/scenetext04.jpg",
            "sklearn:china.jpg",
            "skimage:motorcycle_left.png",
        ),
        TEST: (
            "opencv-doc:reg/home.png",
            "opencv-doc:data/aero3.jpg",
            "opencv-doc:hfs/data/002.jpg",
            "opencv-doc:alphamat/input_images/plant.jpg",
            "opencv-doc:text/scenetext06.jpg",
            "skimage:rocket.jpg",
        ),
    },
    "people": {
        TRAIN: (
            "opencv-doc:data/messi5.jpg",
            "opencv-doc:data/basketball1.png",
            "opencv-doc:data/basketball2.png",
            "skimage:camera.png",
            *_frames(_MEGAMIND, 10, 96, 12),
            *_frames(_MEGAMIND, 100, 152, 12),
            *_frames(_MEGAMIND, 156, 198, 12),
        ),
        TEST: ("skimage:astronaut.png", *_frames(_MEGAMIND, 204, 268, 12)),
    },
    "texture": {
        TRAIN: (
            "skimage:brick.png",
            "skimage:grass.png",
            "opencv-doc:data/baboon.jpg",
            "opencv-doc:data/board.jpg",
            "opencv-doc:data/fruits.jpg",
            "opencv-doc:data/ela_original.jpg",
            "opencv-doc:data/starry_night.jpg",
        ),
        TEST: ("skimage:gravel.png", "sklearn:flower.jpg", "skimage:coffee.png", "opencv-doc:data/graf1.png"),
    },
    "plain": {
        TRAIN: ("opencv-doc:data/smarties.png",),
        TEST: ("opencv-doc:data/HappyFish.jpg", "skimage:horse.png"),
    },
}
#: Where the person is in each people photo (x, y, w, h as fractions): crops always keep it.
PERSON_BOXES: dict[str, tuple[float, float, float, float]] = {
    "opencv-doc:data/messi5.jpg": (0.05, 0.0, 0.55, 1.0),
    "opencv-doc:data/basketball1.png": (0.0, 0.05, 0.45, 0.95),
    "opencv-doc:data/basketball2.png": (0.55, 0.0, 0.45, 1.0),
    "skimage:camera.png": (0.15, 0.05, 0.5, 0.9),
    "skimage:astronaut.png": (0.1, 0.0, 0.65, 1.0),
}
_FILM_PERSON = (0.2, 0.05, 0.6, 0.95)
#: Garment silhouettes and seeds: test garments are other kinds with other seeds.
GARMENTS = {
    TRAIN: ("dress", "tee", "sweater", "jacket", "pants", "skirt", "coat", "tank", "shorts"),
    TEST: ("maxi", "blouse", "cardigan", "jeans", "jumpsuit", "vest", "poncho", "swimsuit"),
}
MATERIALS = ("Denim", "Knit", "Lace", "Silk", "Cable-Knit", "Cotton", "Linen")
LOOKS = ("Striped", "Plaid", "Floral", "", "Printed")


def missing_sources() -> list[str]:
    """Every listed photo that is not installed: the set (and its figures) differ without them."""
    refs = {ref.partition("@")[0] for roles in SOURCES.values() for refs in roles.values() for ref in refs}
    refs |= {ref for refs in SHAPE_TEXTURES.values() for ref in refs}
    refs |= {f"opencv-doc:shape/data/shape_sample/{n}.png" for shapes in SHAPES.values() for n in shapes}
    refs |= {
        "opencv-doc:alphamat/input_images/plant.jpg",
        "opencv-doc:alphamat/output_mattes/plant_result.png",
        "opencv-doc:data/apple.jpg",
        "opencv-doc:data/orange.jpg",
    }
    return sorted(ref for ref in refs if not photo_path(ref).is_file())


@dataclass(frozen=True)
class Cutout:
    """A product with its alpha (0..1), ready to paste."""

    pixels: Pixels
    alpha: Floats


# -- drawing helpers ----------------------------------------------------------------------------


def _canvas_size(rng: np.random.Generator) -> tuple[int, int]:
    long_side = int(rng.integers(400, 641))
    aspect = float(rng.choice([1.0, 1.0, 4 / 3, 3 / 4, 16 / 9, 2 / 3]))
    if aspect >= 1:
        return long_side, max(200, round(long_side / aspect))
    return max(200, round(long_side * aspect)), long_side


def _light_colour(rng: np.random.Generator) -> npt.NDArray[np.float32]:
    return rng.uniform(215, 252, 3).astype(np.float32)


def _plain_background(rng: np.random.Generator, width: int, height: int) -> Pixels:
    kind = rng.choice(["solid", "solid", "gradient", "coloured"])
    if kind == "coloured":
        colour = rng.uniform(60, 235, 3).astype(np.float32)
        return np.full((height, width, 3), colour, np.uint8)
    start = _light_colour(rng)
    if kind == "solid":
        return np.full((height, width, 3), start, np.uint8)
    stop = np.clip(start - rng.uniform(5, 30), 0, 255)
    t = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    return np.broadcast_to(start + (stop - start) * t, (height, width, 3)).astype(np.uint8)


def cover(image: Pixels, width: int, height: int, rng: np.random.Generator | None = None) -> Pixels:
    """Scale to cover ``width`` x ``height`` and crop (centred, or at a random offset)."""
    scale = max(width / image.shape[1], height / image.shape[0])
    size = (max(width, math.ceil(image.shape[1] * scale)), max(height, math.ceil(image.shape[0] * scale)))
    big = cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    top = (big.shape[0] - height) // 2 if rng is None else int(rng.integers(0, big.shape[0] - height + 1))
    left = (big.shape[1] - width) // 2 if rng is None else int(rng.integers(0, big.shape[1] - width + 1))
    return np.ascontiguousarray(big[top : top + height, left : left + width])


def paste(canvas: Pixels, cut: Cutout, box_side: int, cx: float, cy: float, shadow: bool) -> Pixels:
    """Paste ``cut`` scaled so its long side is ``box_side``, centred at (cx, cy) in pixels."""
    scale = box_side / max(cut.pixels.shape[:2])
    w = max(2, round(cut.pixels.shape[1] * scale))
    h = max(2, round(cut.pixels.shape[0] * scale))
    pixels = cv2.resize(cut.pixels, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
    alpha = np.asarray(cv2.resize(cut.alpha, (w, h), interpolation=cv2.INTER_AREA), np.float32)[..., None]
    out = canvas.astype(np.float32)
    height, width = canvas.shape[:2]
    x0, y0 = round(cx - w / 2), round(cy - h / 2)
    layers: list[tuple[npt.NDArray[np.float32], npt.NDArray[np.float32] | None, int, int]] = []
    if shadow:
        blurred = np.asarray(cv2.GaussianBlur(alpha[..., 0], (0, 0), max(1.0, 0.03 * box_side)), np.float32)
        blurred = blurred[..., None]
        layers.append((blurred * 0.35, None, round(0.02 * box_side), round(0.03 * box_side)))
    layers.append((alpha, pixels, 0, 0))
    for a, p, dx, dy in layers:
        xa, ya = max(0, x0 + dx), max(0, y0 + dy)
        xb, yb = min(width, x0 + dx + w), min(height, y0 + dy + h)
        if xa >= xb or ya >= yb:
            continue
        sa = a[ya - y0 - dy : yb - y0 - dy, xa - x0 - dx : xb - x0 - dx]
        region = out[ya:yb, xa:xb]
        source = (
            np.zeros_like(region)
            if p is None
            else p[ya - y0 - dy : yb - y0 - dy, xa - x0 - dx : xb - x0 - dx]
        )
        out[ya:yb, xa:xb] = region * (1 - sa) + source * sa
    return np.asarray(np.clip(out + 0.5, 0, 255), dtype=np.uint8)


def garment(rng: np.random.Generator, split: str) -> tuple[Pixels, Floats]:
    """A demo garment render and its mask (pixels clearly off the render's plain background)."""
    kinds = GARMENTS[split]
    colour = str(rng.choice(sorted(PALETTE)))
    png = render_garment(
        str(kinds[int(rng.integers(0, len(kinds)))]),
        colour,
        material=str(rng.choice(MATERIALS)),
        look=str(rng.choice(LOOKS)),
        seed=int(rng.integers(0, 10_000)) * 2 + (0 if split == TRAIN else 1),
    )
    pixels = np.asarray(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR), dtype=np.uint8)
    lab = cv2.cvtColor(pixels, cv2.COLOR_BGR2LAB).astype(np.float32)
    background = np.median(np.concatenate([lab[:8].reshape(-1, 3), lab[-8:].reshape(-1, 3)]), axis=0)
    mask = (np.linalg.norm(lab - background, axis=2) > 14).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask)
    if count > 1:
        mask = (labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))).astype(np.uint8)
    return pixels, cv2.GaussianBlur(mask.astype(np.float32), (3, 3), 0)


def _crop_to(pixels: Pixels, alpha: Floats) -> Cutout:
    points = cv2.findNonZero((alpha > 0.5).astype(np.uint8))
    x, y, w, h = cv2.boundingRect(points) if points is not None else (0, 0, alpha.shape[1], alpha.shape[0])
    return Cutout(pixels[y : y + h, x : x + w].copy(), alpha[y : y + h, x : x + w].copy())


def product(rng: np.random.Generator, split: str) -> Cutout:
    """A product cut-out: mostly garments; also a matted plant (train) or a round fruit (test), and
    MPEG-7 silhouettes filled with real photo texture (train and test use different shapes)."""
    pick = rng.random()
    if pick < 0.12 and split == TRAIN:
        image = read_photo("opencv-doc:alphamat/input_images/plant.jpg")
        matte = read_photo("opencv-doc:alphamat/output_mattes/plant_result.png")
        if image is not None and matte is not None:
            return _crop_to(image, matte[..., 0].astype(np.float32) / 255.0)
    if pick < 0.22:
        fruit = read_photo("opencv-doc:data/apple.jpg" if split == TRAIN else "opencv-doc:data/orange.jpg")
        if fruit is not None:
            alpha = np.zeros(fruit.shape[:2], np.float32)
            h, w = fruit.shape[:2]
            cv2.ellipse(alpha, (w // 2, h // 2), (int(w * 0.36), int(h * 0.38)), 0, 0, 360, 1.0, -1)
            return _crop_to(fruit, np.asarray(cv2.GaussianBlur(alpha, (0, 0), 2), np.float32))
    if pick < 0.45:
        shaped = _shape_product(rng, split)
        if shaped is not None:
            return shaped
    pixels, alpha = garment(rng, split)
    return _crop_to(pixels, alpha)


#: MPEG-7 silhouettes (opencv-doc shape samples) and photo textures that fill them, per split.
SHAPES = {TRAIN: (1, 2, 3, 5, 7, 9, 11, 13, 15, 17, 19), TEST: (4, 6, 8, 10, 12, 14, 16, 18, 20)}
SHAPE_TEXTURES = {
    TRAIN: ("opencv-doc:data/orange.jpg", "skimage:chelsea.png", "opencv-doc:data/board.jpg"),
    TEST: ("opencv-doc:data/butterfly.jpg", "skimage:coffee.png"),
}


def _shape_product(rng: np.random.Generator, split: str) -> Cutout | None:
    shape = SHAPES[split][int(rng.integers(0, len(SHAPES[split])))]
    mask = read_photo(f"opencv-doc:shape/data/shape_sample/{shape}.png")
    textures = [t for t in SHAPE_TEXTURES[split] if read_photo(t) is not None]
    if mask is None or not textures:
        return None
    texture = read_photo(textures[int(rng.integers(0, len(textures)))])
    assert texture is not None
    grey = cv2.cvtColor(mask, cv2.COLOR_BGR2GRAY)
    h, w = grey.shape
    fill = cv2.resize(texture, (w, h), interpolation=cv2.INTER_AREA)
    alpha = np.asarray(cv2.GaussianBlur((grey > 127).astype(np.float32), (0, 0), 0.7), np.float32)
    return _crop_to(np.ascontiguousarray(fill), alpha)


def _jitter(image: Pixels, rng: np.random.Generator) -> Pixels:
    """Flip, contrast and brightness jitter: the same photo, not the same pixels."""
    if rng.random() < 0.5:
        image = image[:, ::-1]
    gain, bias = rng.uniform(0.85, 1.15), rng.uniform(-18, 18)
    return np.asarray(np.clip(image.astype(np.float32) * gain + bias, 0, 255), dtype=np.uint8)


def _pick(rng: np.random.Generator, role: str, split: str) -> tuple[str, Pixels]:
    refs = [ref for ref in SOURCES[role][split] if read_photo(ref) is not None]
    if not refs:
        raise FileNotFoundError(
            f"no {role} photos for the {split} split: "
            "install Debian opencv-doc and the scikit-image and scikit-learn packages"
        )
    ref = refs[int(rng.integers(0, len(refs)))]
    photo = read_photo(ref)
    assert photo is not None
    return ref, photo


# -- the six kinds ------------------------------------------------------------------------------


def make_plain(rng: np.random.Generator, split: str, width: int, height: int) -> Pixels:
    pick = rng.random()
    if pick < 0.1:
        _ref, photo = _pick(rng, "plain", split)
        scale = rng.uniform(0.7, 1.0)
        canvas = np.full((height, width, 3), photo[2, 2], np.uint8)
        side = round(min(width, height) * scale)
        cut = Cutout(photo, np.ones(photo.shape[:2], np.float32))
        return paste(canvas, cut, side, width / 2, height / 2, shadow=False)
    canvas = _plain_background(rng, width, height)
    if pick < 0.22:  # a set of two or three products side by side
        count = int(rng.integers(2, 4))
        side = round(min(width / count, height) * rng.uniform(0.6, 0.85))
        for k in range(count):
            cx = width * (k + 0.5) / count + rng.uniform(-0.04, 0.04) * width
            canvas = paste(canvas, product(rng, split), side, cx, height * rng.uniform(0.45, 0.55), True)
        return canvas
    side = round(min(width, height) * rng.uniform(0.4, 0.9))
    cx = width / 2 + rng.uniform(-0.15, 0.15) * width
    cy = height / 2 + rng.uniform(-0.12, 0.12) * height
    canvas = paste(canvas, product(rng, split), side, cx, cy, shadow=bool(rng.random() < 0.6))
    if rng.random() < 0.2:  # a small brand name or price under the product: still a product shot
        canvas = _small_label(rng, canvas)
    return canvas


def _small_label(rng: np.random.Generator, canvas: Pixels) -> Pixels:
    fonts = list(_fonts())
    if not fonts:
        return canvas
    height, width = canvas.shape[:2]
    text = str(rng.choice(["NEW", "¥199", "$29.99", "BRAND", "Cotton", "新品", "100% Cotton"]))
    choices = [f for f in fonts if f.spec.cjk] if any(ord(c) > 0x2E80 for c in text) else fonts
    font = choices[int(rng.integers(0, len(choices)))] if choices else fonts[0]
    image = Image.fromarray(cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB))
    draw = ImageDraw.Draw(image)
    px = max(12, round(height * rng.uniform(0.03, 0.05)))
    face = load_font(font, px)
    x = width * rng.uniform(0.05, 0.6)
    y = height * rng.uniform(0.86, 0.92)
    draw.text((x, y), text, font=face, fill=(40, 40, 40))
    return np.asarray(cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR), dtype=np.uint8)


def make_lifestyle(rng: np.random.Generator, split: str, width: int, height: int) -> Pixels:
    _ref, photo = _pick(rng, "backdrop", split)
    backdrop = cover(_jitter(photo, rng), width, height, rng)
    if rng.random() < 0.35:
        return backdrop
    sigma = float(rng.choice([0.0, 1.0, 2.0, 3.0]))
    if sigma:
        backdrop = np.asarray(cv2.GaussianBlur(backdrop, (0, 0), sigma), dtype=np.uint8)
    side = round(min(width, height) * rng.uniform(0.3, 0.6))
    cx = rng.uniform(0.3, 0.7) * width
    cy = rng.uniform(0.45, 0.7) * height
    return paste(backdrop, product(rng, split), side, cx, cy, shadow=bool(rng.random() < 0.5))


def make_person(rng: np.random.Generator, split: str, width: int, height: int) -> Pixels:
    ref, photo = _pick(rng, "people", split)
    h, w = photo.shape[:2]
    bx, by, bw, bh = PERSON_BOXES.get(ref.partition("@")[0] if "@" in ref else ref, _FILM_PERSON)
    # A crop that keeps the person's box, between the box itself and the whole photo.
    t = rng.uniform(0, 1)
    x0 = round(bx * w * t)
    y0 = round(by * h * t)
    x1 = round(w - (w - (bx + bw) * w) * t)
    y1 = round(h - (h - (by + bh) * h) * t)
    crop = photo[y0:y1, x0:x1]
    return cover(_jitter(crop, rng), width, height)


def make_detail(rng: np.random.Generator, split: str, width: int, height: int) -> Pixels:
    if rng.random() < 0.6:
        pixels, alpha = garment(rng, split)
        ys, xs = np.nonzero(alpha > 0.99)
        for _ in range(20):
            side = int(rng.integers(70, 170))
            k = int(rng.integers(0, len(xs)))
            x0, y0 = int(xs[k]) - side // 2, int(ys[k]) - side // 2
            if x0 < 0 or y0 < 0 or x0 + side > pixels.shape[1] or y0 + side > pixels.shape[0]:
                continue
            if float(alpha[y0 : y0 + side, x0 : x0 + side].mean()) > 0.97:
                return cover(pixels[y0 : y0 + side, x0 : x0 + side], width, height)
    _ref, photo = _pick(rng, "texture", split)
    side = round(min(photo.shape[:2]) * rng.uniform(0.25, 0.6))
    y0 = int(rng.integers(0, photo.shape[0] - side + 1))
    x0 = int(rng.integers(0, photo.shape[1] - side + 1))
    return cover(_jitter(photo[y0 : y0 + side, x0 : x0 + side], rng), width, height)


@lru_cache(maxsize=1)
def _fonts() -> tuple[ResolvedFont, ...]:
    return tuple(resolve_fonts()[0])


def make_poster(rng: np.random.Generator, split: str, width: int, height: int) -> Pixels:
    pick = rng.random()
    if pick < 0.3:
        return _layout_poster(rng, split, width, height)
    if pick < 0.45:
        return _giant_word_poster(rng, split, width, height)
    if pick < 0.6:
        return _panel_poster(rng, split, width, height)
    return _copy_poster(rng, split, width, height)


def _decode_png(data: bytes) -> Pixels:
    return np.asarray(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), dtype=np.uint8)


def _layout_poster(rng: np.random.Generator, split: str, width: int, height: int) -> Pixels:
    """A whole ad layout (stacked copy, columns, a row of prices, a sticker) on a backdrop or a photo."""
    layout = str(rng.choice(["stack", "columns", "row", "badge", "columns"]))
    if rng.random() < 0.3:
        _ref, photo = _pick(rng, "backdrop", split)
        base = cover(_jitter(photo, rng), width, height, rng).astype(np.float32)
        light = bool(rng.random() < 0.5)
        scrim = 255.0 if light else 0.0
        base = base * 0.35 + scrim * 0.65
        sample = render_layout(0, rng, layout, "solid", list(_fonts()), canvas=(base.astype(np.uint8), light))
    else:
        background = str(rng.choice(["solid", "gradient", "noise", "photo"]))
        sample = render_layout(0, rng, layout, background, list(_fonts()), size=(width, height))
    return _decode_png(sample.png)


def _giant_word_poster(rng: np.random.Generator, split: str, width: int, height: int) -> Pixels:
    """One or two huge words (a sale, a price), maybe with a small product."""
    light = bool(rng.random() < 0.5)
    canvas, _source = backdrop(rng, str(rng.choice(["solid", "gradient", "noise"])), light, width, height)
    if rng.random() < 0.35:
        side = round(min(width, height) * rng.uniform(0.2, 0.35))
        canvas = paste(canvas, product(rng, split), side, width * 0.78, height * 0.75, shadow=False)
    fonts = list(_fonts())
    image = Image.fromarray(cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB))
    draw = ImageDraw.Draw(image)
    words = ["SALE", "50%", "-70%", "NEW", "HOT", "OFF", "¥99", "$19", "特卖", "五折", "新品", "清仓", "秒杀"]
    y = height * rng.uniform(0.08, 0.3)
    for _ in range(int(rng.integers(1, 3))):
        text = words[int(rng.integers(0, len(words)))]
        cjk = any(ord(ch) > 0x2E80 for ch in text)
        choices = [f for f in fonts if f.spec.cjk or not cjk] or fonts
        font = choices[int(rng.integers(0, len(choices)))]
        px = round(height * rng.uniform(0.2, 0.38))
        face = load_font(font, px)
        while px > 20 and draw.textlength(text, font=face) > width * 0.9:
            px = int(px * 0.9)
            face = load_font(font, px)
        x = (width - draw.textlength(text, font=face)) / 2
        colour = pick_colour(rng, not light)
        draw.text((x, y), text, font=face, fill=(colour[2], colour[1], colour[0]))
        y += px * 1.15
    return np.asarray(cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR), dtype=np.uint8)


def _panel_poster(rng: np.random.Generator, split: str, width: int, height: int) -> Pixels:
    """A picture on one side and a coloured text panel on the other (a split layout)."""
    vertical = width >= height
    share = rng.uniform(0.4, 0.55)
    canvas = np.zeros((height, width, 3), np.uint8)
    if vertical:
        pw, ph = round(width * share), height
    else:
        pw, ph = width, round(height * share)
    kind = SceneClass.PLAIN_PRODUCT if rng.random() < 0.5 else SceneClass.LIFESTYLE
    picture = MAKERS[kind](rng, split, pw, ph)
    panel_w, panel_h = (width - pw, height) if vertical else (width, height - ph)
    light = bool(rng.random() < 0.5)
    panel, _source = backdrop(rng, str(rng.choice(["solid", "gradient"])), light, panel_w, panel_h)
    sample = render_layout(0, rng, "stack", "solid", list(_fonts()), canvas=(panel, light))
    text_panel = _decode_png(sample.png)
    first = rng.random() < 0.5
    if vertical:
        if first:
            canvas[:, :pw], canvas[:, pw:] = picture, text_panel
        else:
            canvas[:, : width - pw], canvas[:, width - pw :] = text_panel, picture
    elif first:
        canvas[:ph], canvas[ph:] = picture, text_panel
    else:
        canvas[: height - ph], canvas[height - ph :] = text_panel, picture
    return canvas


def _copy_poster(rng: np.random.Generator, split: str, width: int, height: int) -> Pixels:
    light = bool(rng.random() < 0.5)
    kind = str(rng.choice(["solid", "gradient", "noise", "photo"]))
    canvas, _source = backdrop(rng, kind, light, width, height)
    if rng.random() < 0.4:
        side = round(min(width, height) * rng.uniform(0.2, 0.35))
        canvas = paste(canvas, product(rng, split), side, width * 0.75, height * 0.78, shadow=False)
    fonts = list(_fonts())
    image = Image.fromarray(cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB))
    draw = ImageDraw.Draw(image)
    margin = width // 16
    y = margin
    first = True
    while y < height * 0.8:
        language = "zh" if rng.random() < 0.5 else "en"
        choices = [f for f in fonts if f.spec.cjk or language == "en"] or fonts
        if not choices:
            break
        font = choices[int(rng.integers(0, len(choices)))]
        copy = ZH_COPY if language == "zh" else EN_COPY
        text = copy[int(rng.integers(0, len(copy)))]
        px = round(height * (rng.uniform(0.1, 0.16) if first else rng.uniform(0.05, 0.09)))
        face = load_font(font, px)
        while px > 12 and draw.textlength(text, font=face) > width - 2 * margin:
            px = int(px * 0.9)
            face = load_font(font, px)
        colour = pick_colour(rng, not light)
        draw.text((margin, y), text, font=face, fill=(colour[2], colour[1], colour[0]))
        y += round(px * rng.uniform(1.25, 1.6))
        first = False
    return np.asarray(cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR), dtype=np.uint8)


LAYOUTS: tuple[tuple[tuple[float, float, float, float], ...], ...] = (
    ((0, 0, 0.5, 0.5), (0.5, 0, 0.5, 0.5), (0, 0.5, 0.5, 0.5), (0.5, 0.5, 0.5, 0.5)),
    ((0, 0, 0.5, 1), (0.5, 0, 0.5, 1)),
    ((0, 0, 1, 0.5), (0, 0.5, 1, 0.5)),
    ((0, 0, 1 / 3, 1), (1 / 3, 0, 1 / 3, 1), (2 / 3, 0, 1 / 3, 1)),
    ((0, 0, 1, 1 / 3), (0, 1 / 3, 1, 1 / 3), (0, 2 / 3, 1, 1 / 3)),
    ((0, 0, 0.6, 1), (0.6, 0, 0.4, 0.5), (0.6, 0.5, 0.4, 0.5)),
    tuple((c / 3, r / 3, 1 / 3, 1 / 3) for r in range(3) for c in range(3)),
)
_TILE_KINDS = (SceneClass.PLAIN_PRODUCT, SceneClass.LIFESTYLE, SceneClass.PERSON, SceneClass.DETAIL_CLOSEUP)


def make_collage(rng: np.random.Generator, split: str, width: int, height: int) -> Pixels:
    layout = LAYOUTS[int(rng.integers(0, len(LAYOUTS)))]
    gutter = int(rng.choice([0, 0, 3, 6, 10, 14]))
    colour = rng.choice([255, 255, 240, 0]) if rng.random() < 0.8 else rng.integers(0, 256, 3)
    canvas = np.zeros((height, width, 3), np.uint8)
    canvas[:] = colour
    outer = gutter if rng.random() < 0.5 else 0
    inner_w, inner_h = width - 2 * outer, height - 2 * outer
    for fx, fy, fw, fh in layout:
        x0 = outer + round(fx * inner_w) + (gutter // 2 if fx > 0 else 0)
        y0 = outer + round(fy * inner_h) + (gutter // 2 if fy > 0 else 0)
        x1 = outer + round((fx + fw) * inner_w) - (gutter - gutter // 2 if fx + fw < 1 else 0)
        y1 = outer + round((fy + fh) * inner_h) - (gutter - gutter // 2 if fy + fh < 1 else 0)
        if x1 - x0 < 16 or y1 - y0 < 16:
            continue
        kind = _TILE_KINDS[int(rng.integers(0, len(_TILE_KINDS)))]
        if rng.random() < 0.12:  # now and then a tile of copy
            kind = SceneClass.TEXT_POSTER
        canvas[y0:y1, x0:x1] = MAKERS[kind](rng, split, x1 - x0, y1 - y0)
    return canvas


MAKERS: dict[SceneClass, Callable[[np.random.Generator, str, int, int], Pixels]] = {
    SceneClass.PLAIN_PRODUCT: make_plain,
    SceneClass.LIFESTYLE: make_lifestyle,
    SceneClass.PERSON: make_person,
    SceneClass.DETAIL_CLOSEUP: make_detail,
    SceneClass.TEXT_POSTER: make_poster,
    SceneClass.COLLAGE: make_collage,
}


def make_example(kind: SceneClass, split: str, index: int, seed: int = SEED) -> Pixels:
    """Example ``index`` of ``kind`` in ``split``: the same arguments always give the same pixels."""
    rng = np.random.default_rng([seed, CLASSES.index(kind), SPLITS.index(split), index])
    width, height = _canvas_size(rng)
    return MAKERS[kind](rng, split, width, height)


def write_samples(out: Path, seed: int = SEED, per_split: int = 4) -> int:
    """``per_split`` pictures of every kind in each split as ``<kind>-<split>-<i>.png``; the count."""
    out.mkdir(parents=True, exist_ok=True)
    for kind in CLASSES:
        for split in SPLITS:
            for i in range(per_split):
                cv2.imwrite(str(out / f"{kind.value}-{split}-{i}.png"), make_example(kind, split, i, seed))
    return len(CLASSES) * len(SPLITS) * per_split
