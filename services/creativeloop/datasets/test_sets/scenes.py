"""Scene class: 144 labelled pictures, 24 per class, written independently of the classifier.

How it was made
---------------
Written for issue 16 without reading the scene classifier (``understanding/scene.py`` beyond
the ``SceneClass`` names), its training pictures or the project's scene generator. Real
photographs and film frames that install offline are used wherever they exist; generated
pictures fill the classes that need layouts (posters, collages) and add products with exact
placement. Seed `SEED`; every case is rebuilt the same way.

The label is the picture's dominant content, by these rules (written before building):

- ``plain_product``: one product, or a set of the same product, on a plain, gradient or studio
  background; at most a small logo or price (< 5 % of the area). 4 real (opencv-doc apple.jpg,
  HappyFish.jpg, box.png, smarties.png) + 20 drawn products, some in sets of three;
- ``lifestyle``: objects in a real environment (desk, table, room, street, garden) with no
  prominent person and no large text. 10 real photos (stuff.jpg, coffee, left.jpg, right.jpg,
  rubberwhale1.png, aloeL/R.jpg, box_in_scene.png, fruits.jpg, stereo_motorcycle) + 14 drawn
  products composited at a natural scale into real scenes with a contact shadow;
- ``person``: a person (or a human character) is the main subject: Megamind.avi frames and
  face crops, messi5.jpg, skimage astronaut, basketball1/2.png, bikes.mp4 frames, a vtest.avi
  pedestrian crop, and 3 of those with a product
  pasted in beside the person (still person: the person dominates);
- ``detail_closeup``: a part or material seen at macro scale, no whole object: crops of real
  photos (orange peel, apple skin, baboon fur, cat eye, coffee crema, butterfly wing, circuit
  board, brush strokes, kiwi, petals, roof tiles, knitted and printed fabric, ...), scikit-image
  brick/gravel/grass, and 4 drawn materials (stitched leather, zipper, knit, wood grain);
- ``text_poster``: text is the main content (large headline lines covering roughly a quarter of
  the picture or more): 22 drawn posters (photo, solid and gradient grounds, English, Chinese
  and mixed, a vertical Chinese title, a giant "50% OFF", event posters, posters with a small
  product) + 2 real text pages (opencv-doc imageTextN.png, skimage page);
- ``collage``: two or more separate pictures tiled into one: grids 1x2 to 3x3 with gutters
  (white, black, coloured; 3-12 px) and *without* gutters, irregular mosaics, a polaroid scatter
  with rotated overlapping prints, a before/after split.

`SceneCase.tags` name the source (``real``, ``composite``, ``drawn``) and the variant
(``no_gutter``, ``person_with_product``, ...). Pictures are BGR uint8, 240-400 px a side.

Sources per class: plain_product 4 real + 20 drawn; lifestyle 10 real + 14 composites; person
24 real: 13 film frames (Megamind.avi x 10, bikes.mp4 x 2, vtest.avi x 1), 8 photos (messi5,
astronaut, basketball1/2, two framings each) and 3 of those with a product pasted beside the
person (astronaut, messi5, a Megamind frame); detail_closeup 20 real crops + 4 drawn;
text_poster 22 drawn + 2 real pages; collage 24 made of real photos and drawn products (16
grids, 10 of them without gutters, 3 mosaics, 3 polaroid scatters, 2 splits).

Scoring: accuracy and per-class recall over the 144; a confusion matrix is the useful output.
The person class leans on one film (Megamind: animated characters), so also report person
recall without the ``film_frame`` tag.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from creativeloop.datasets.test_sets import _draw
from creativeloop.datasets.test_sets._media import (
    Image,
    cover,
    paste,
    photo,
    rng,
    rotate_layer,
    solid,
    video_frames,
)
from creativeloop.datasets.test_sets._products import KINDS, product

SEED = 16_002
CLASSES: tuple[str, ...] = (
    "plain_product",
    "lifestyle",
    "person",
    "detail_closeup",
    "text_poster",
    "collage",
)
PER_CLASS = 24
COUNT = PER_CLASS * len(CLASSES)
SIZES = ((320, 320), (384, 256), (256, 384), (400, 300), (300, 400))

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class SceneCase:
    case_id: str
    image: Image
    label: str
    source: str
    tags: tuple[str, ...]

    def to_label(self) -> dict[str, Any]:
        return {
            "id": self.case_id,
            "label": self.label,
            "source": self.source,
            "tags": list(self.tags),
            "width": int(self.image.shape[1]),
            "height": int(self.image.shape[0]),
        }


def _crop(image: Image, box: Box | None) -> Image:
    if box is None:
        return image
    h, w = image.shape[:2]
    x0, y0, x1, y1 = box
    return np.ascontiguousarray(image[int(y0 * h) : int(y1 * h), int(x0 * w) : int(x1 * w)])


def _frame(file: str, index: int) -> Image:
    return video_frames(file, index, index + 1, width=480)[0]


def _source(name: str) -> Image:
    if name.startswith("video:"):
        file, _, idx = name[6:].partition("@")
        return _frame(file, int(idx))
    return photo(name, max_side=640)


def _fit(image: Image, size: tuple[int, int]) -> Image:
    """Scale so the longer side matches the target's longer side (aspect kept, no padding)."""
    h, w = image.shape[:2]
    target = max(size)
    scale = target / max(h, w)
    out = cv2.resize(
        image,
        (max(8, round(w * scale)), max(8, round(h * scale))),
        interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC,
    )
    return np.ascontiguousarray(out)


# --- plain_product -------------------------------------------------------------------------------

PLAIN_REAL: tuple[tuple[str, Box | None], ...] = (
    ("cv:apple.jpg", None),
    ("cv:HappyFish.jpg", None),
    ("cv:box.png", None),
    ("cv:smarties.png", None),
)


def _plain_product(j: int, r: np.random.Generator, size: tuple[int, int]) -> tuple[Image, str, list[str]]:
    if j < len(PLAIN_REAL):
        name, box = PLAIN_REAL[j]
        return _fit(_crop(_source(name), box), size), name, ["real"]
    W, H = size
    canvas = (_draw.plain, _draw.gradient)[j % 2](W, H, r)
    kind = KINDS[(j * 5) % len(KINDS)]
    tags = ["drawn"]
    copies = 3 if j % 6 == 5 else 1
    height = int(H * r.uniform(0.45, 0.8)) if copies == 1 else int(H * 0.45)
    item = product(kind, height, r)
    ph, pw = item.mask.shape
    if copies > 1 and pw * 3 + 20 > W:
        item = product(kind, int(height * (W - 20) / (pw * 3 + 20)), r)
        ph, pw = item.mask.shape
    if copies == 1 and pw > W * 0.9:
        item = product(kind, int(height * W * 0.85 / pw), r)
        ph, pw = item.mask.shape
    gap = (W - copies * pw) // (copies + 1)
    cy = int(H * r.uniform(0.45, 0.58))
    for k in range(copies):
        x = gap + k * (pw + gap)
        y = int(np.clip(cy - ph // 2, 2, H - ph - 2))
        _draw.contact_shadow(canvas, x + pw // 2, y + ph, pw // 2, 0.4)
        paste(canvas, item.image, item.mask.astype(np.float32), x, y)
    if copies > 1:
        tags.append("set_of_three")
    if j % 4 == 3:
        price = ("$19", "¥59", "€9.90", "NEW")[j % 4]
        size_pt = max(10, int(H * 0.05))
        _draw.draw_text(
            canvas,
            price,
            "sans_bold",
            size_pt,
            6,
            H - size_pt - 10,
            _draw.contrast_ink(canvas, (0, H - 40, 80, 40)),
        )
        tags.append("small_text")
    return canvas, f"drawn:{kind}", tags


# --- lifestyle -----------------------------------------------------------------------------------

LIFESTYLE_REAL: tuple[tuple[str, Box | None], ...] = (
    ("cv:stuff.jpg", None),
    ("sk:coffee", None),
    ("cv:left.jpg", None),
    ("cv:right.jpg", None),
    ("cv:rubberwhale1.png", None),
    ("cv:aloeL.jpg", None),
    ("cv:aloeR.jpg", (0.0, 0.1, 0.9, 1.0)),
    ("cv:box_in_scene.png", None),
    ("cv:fruits.jpg", None),
    ("sk:stereo_motorcycle", None),
)
#: Real scenes to put a product into, and where the "floor" is (fraction of the height).
LIFESTYLE_SCENES: tuple[tuple[str, float], ...] = (
    ("cv:stuff.jpg", 0.85),
    ("cv:leuvenA.jpg", 0.9),
    ("cv:rubberwhale2.png", 0.92),
    ("cv:left.jpg", 0.9),
    ("sk:coffee", 0.8),
    ("cv:home.jpg", 0.95),
    ("cv:building.jpg", 0.95),
    ("skl:china.jpg", 0.97),
    ("cv:aloeL.jpg", 0.95),
    ("cv:right.jpg", 0.88),
    ("skl:flower.jpg", 0.95),
    ("cv:fruits.jpg", 0.9),
    ("cv:box_in_scene.png", 0.9),
    ("cv:leuvenB.jpg", 0.92),
)


def _lifestyle(j: int, r: np.random.Generator, size: tuple[int, int]) -> tuple[Image, str, list[str]]:
    if j < len(LIFESTYLE_REAL):
        name, box = LIFESTYLE_REAL[j]
        return _fit(_crop(_source(name), box), size), name, ["real"]
    W, H = size
    name, floor = LIFESTYLE_SCENES[j - len(LIFESTYLE_REAL)]
    canvas = cover(_source(name), W, H, (float(r.uniform(0.35, 0.65)), 0.6))
    kind = KINDS[(j * 3 + 1) % len(KINDS)]
    item = product(kind, int(H * r.uniform(0.3, 0.5)), r)
    ph, pw = item.mask.shape
    if pw > W * 0.6:
        item = product(kind, int(ph * W * 0.55 / pw), r)
        ph, pw = item.mask.shape
    x = int(r.uniform(0.1, 0.9) * (W - pw))
    y = int(min(H * floor, H - 2) - ph)
    _draw.contact_shadow(canvas, x + pw // 2, y + ph, pw // 2, 0.5)
    # Match the scene's light a little.
    mean = canvas.reshape(-1, 3).mean(axis=0) / 128.0
    tinted = np.clip(item.image.astype(np.float32) * (0.75 + 0.25 * mean), 0, 255).astype(np.uint8)
    paste(canvas, tinted, item.mask.astype(np.float32), x, y)
    return canvas, f"composite:{kind}@{name}", ["composite"]


# --- person --------------------------------------------------------------------------------------

PERSON_REAL: tuple[tuple[str, Box | None], ...] = (
    ("video:Megamind.avi@10", None),
    ("video:Megamind.avi@40", (0.1, 0.0, 0.9, 1.0)),
    ("video:Megamind.avi@80", (0.25, 0.0, 0.85, 0.8)),
    ("video:Megamind.avi@120", None),
    ("video:Megamind.avi@140", (0.45, 0.0, 1.0, 0.75)),
    ("video:Megamind.avi@170", (0.1, 0.0, 0.75, 1.0)),
    ("video:Megamind.avi@215", None),
    ("video:Megamind.avi@260", (0.2, 0.05, 0.8, 0.75)),
    ("cv:messi5.jpg", None),
    ("cv:messi5.jpg", (0.15, 0.05, 0.75, 0.75)),
    ("sk:astronaut", None),
    ("sk:astronaut", (0.1, 0.0, 0.65, 0.55)),
    ("cv:basketball1.png", None),
    ("cv:basketball2.png", None),
    ("cv:basketball2.png", (0.55, 0.0, 1.0, 1.0)),
    ("cv:basketball1.png", (0.0, 0.0, 0.45, 1.0)),
    ("video:bikes.mp4@45", (0.15, 0.0, 0.85, 1.0)),
    ("video:bikes.mp4@115", (0.5, 0.0, 1.0, 1.0)),
    ("video:Megamind.avi@185", (0.05, 0.0, 0.7, 1.0)),
    ("video:vtest.avi@400", (0.8, 0.45, 1.0, 0.85)),
    ("video:Megamind.avi@230", (0.15, 0.0, 0.85, 1.0)),
)


def _person(j: int, r: np.random.Generator, size: tuple[int, int]) -> tuple[Image, str, list[str]]:
    if j < len(PERSON_REAL):
        name, box = PERSON_REAL[j]
        tags = ["real"] if not name.startswith("video:") else ["real", "film_frame"]
        return _fit(_crop(_source(name), box), size), name, tags
    # A person with a product pasted beside them (an ad look); the person still dominates.
    base_name, box = (
        ("sk:astronaut", None),
        ("cv:messi5.jpg", (0.05, 0.0, 0.95, 1.0)),
        ("video:Megamind.avi@60", None),
    )[j - len(PERSON_REAL)]
    canvas = _fit(_crop(_source(base_name), box), size)
    H, W = canvas.shape[:2]
    item = product(KINDS[j % 10], int(H * 0.28), r)
    ph, pw = item.mask.shape
    x, y = W - pw - 8, H - ph - 8
    paste(canvas, item.image, item.mask.astype(np.float32), x, y)
    return canvas, f"composite:{base_name}", ["real", "composite", "person_with_product"]


# --- detail_closeup ------------------------------------------------------------------------------

DETAIL_REAL: tuple[tuple[str, Box | None], ...] = (
    ("cv:orange.jpg", (0.35, 0.3, 0.6, 0.55)),
    ("cv:apple.jpg", (0.45, 0.3, 0.72, 0.57)),
    ("cv:baboon.jpg", (0.0, 0.55, 0.25, 0.85)),
    ("sk:chelsea", (0.55, 0.25, 0.85, 0.65)),
    ("sk:coffee", (0.4, 0.2, 0.6, 0.45)),
    ("cv:butterfly.jpg", (0.08, 0.3, 0.35, 0.62)),
    ("cv:board.jpg", (0.3, 0.3, 0.55, 0.6)),
    ("cv:starry_night.jpg", (0.6, 0.1, 0.85, 0.4)),
    ("cv:fruits.jpg", (0.0, 0.7, 0.2, 0.98)),
    ("skl:flower.jpg", (0.38, 0.3, 0.58, 0.55)),
    ("skl:china.jpg", (0.22, 0.3, 0.42, 0.52)),
    ("sk:brick", None),
    ("sk:gravel", None),
    ("sk:grass", (0.0, 0.0, 0.5, 0.5)),
    ("cv:aloeL.jpg", (0.0, 0.0, 0.3, 0.35)),
    ("cv:rubberwhale1.png", (0.72, 0.05, 0.98, 0.45)),
    ("sk:astronaut", (0.28, 0.72, 0.5, 0.95)),
    ("cv:squirrel_cls.jpg", (0.45, 0.45, 0.62, 0.68)),
    ("cv:graf1.png", (0.35, 0.25, 0.6, 0.55)),
    ("sk:stereo_motorcycle", (0.18, 0.62, 0.38, 0.92)),
)


def _detail(j: int, r: np.random.Generator, size: tuple[int, int]) -> tuple[Image, str, list[str]]:
    if j < len(DETAIL_REAL):
        name, box = DETAIL_REAL[j]
        W, H = size
        return cover(_crop(_source(name), box), W, H), name, ["real", "macro_crop"]
    W, H = size
    k = j - len(DETAIL_REAL)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    grain = _draw.pattern(W, H, r, "gravel")[:, :, 1].astype(np.float32) / 255.0
    if k == 0:  # stitched leather
        base = np.array((40, 70, 120), np.float32)
        img = base * (0.75 + 0.5 * grain[:, :, None])
        img = cv2.GaussianBlur(img, (0, 0), 1.0)
        y0 = int(H * r.uniform(0.4, 0.6))
        for x in range(0, W, 18):
            cv2.line(img, (x, y0), (x + 10, y0 - 2), (190, 215, 235), 3)
        cv2.line(img, (0, y0 + 14), (W, y0 + 10), (25, 45, 80), 2)
        name = "drawn:leather_stitch"
    elif k == 1:  # zipper
        img = np.broadcast_to(
            np.array((60, 60, 60), np.float32) * (0.8 + 0.4 * grain[:, :, None]), (H, W, 3)
        ).copy()
        cx = W // 2
        for y in range(0, H, 14):
            side = 1 if (y // 14) % 2 else -1
            cv2.rectangle(
                img, (cx + min(0, side * 22), y), (cx + max(0, side * 22), y + 9), (170, 180, 190), -1
            )
            cv2.rectangle(
                img, (cx + min(0, side * 22), y), (cx + max(0, side * 22), y + 2), (230, 235, 240), -1
            )
        name = "drawn:zipper"
    elif k == 2:  # knit
        v = np.abs(np.sin(xx / 7.0 + 0.8 * np.sin(yy / 5.0))) * np.abs(np.sin(yy / 4.5))
        img = (
            np.array((70, 60, 170), np.float32)
            * (0.5 + 0.7 * v[:, :, None])
            * (0.9 + 0.2 * grain[:, :, None])
        )
        name = "drawn:knit"
    else:  # wood grain
        rings = np.sin((yy / 9.0) + 3.0 * np.sin(xx / 60.0) + 6 * grain * 0.3)
        img = np.array((60, 110, 160), np.float32) * (0.8 + 0.25 * rings[:, :, None])
        name = "drawn:wood"
    return np.clip(img, 0, 255).astype(np.uint8), name, ["drawn", "material"]


# --- text_poster ---------------------------------------------------------------------------------

POSTER_LINES: tuple[tuple[str, ...], ...] = (
    ("SUMMER", "SALE", "up to 50% off"),
    ("双十一", "狂欢节", "全场五折起"),
    ("NEW", "COLLECTION", "Autumn / Winter"),
    ("50% OFF",),
    ("限时抢购", "Flash Sale", "今晚八点"),
    ("Grand", "Opening", "Sat 12 Oct · 10 am"),
    ("BLACK", "FRIDAY", "deals all weekend"),
    ("年终大促", "满300减50"),
    ("Free", "Delivery", "on orders over $30"),
    ("BUY 1", "GET 1", "FREE"),
    ("新品首发", "NEW IN"),
    ("Think", "Different", "Think Local"),
    ("春季上新", "SPRING", "2026"),
    ("CLEARANCE", "Everything must go"),
    ("会员日", "积分翻倍", "Members Day"),
    ("LAST", "CHANCE", "ends midnight"),
    ("HELLO", "WEEKEND"),
    ("品质生活", "从这里开始"),
    ("Coffee", "Festival", "12-14 June · Riverside"),
    ("SALE",),
    ("MEGA", "DEALS", "shop the app"),
    ("好物推荐", "Top Picks", "本周精选"),
)


def _poster(j: int, r: np.random.Generator, size: tuple[int, int]) -> tuple[Image, str, list[str]]:
    if j >= len(POSTER_LINES):
        name, box = (("cv:imageTextN.png", (0.0, 0.0, 1.0, 0.6)), ("sk:page", None))[j - len(POSTER_LINES)]
        W, H = size
        return cover(_crop(_source(name), box), W, H, (0.5, 0.4)), name, ["real", "document"]
    W, H = size
    lines = POSTER_LINES[j]
    style = j % 5
    tags = ["drawn"]
    if style == 0:
        canvas = _draw.busy(W, H, r, blur=True)
        canvas = (canvas.astype(np.float32) * 0.45).astype(np.uint8)
        tags.append("photo_ground")
    elif style == 1:
        canvas = _draw.gradient(W, H, r)
    elif style == 2:
        b, g, rr = r.integers(0, 256, size=3)
        canvas = solid(W, H, (int(b), int(g), int(rr)))
    elif style == 3:
        canvas = _draw.pattern(W, H, r, ("stripes", "dots", "checker")[j % 3])
        canvas = (canvas.astype(np.float32) * 0.5 + 110).astype(np.uint8)
        tags.append("pattern_ground")
    else:
        canvas = _draw.plain(W, H, r)
    text_w = W - 16
    x_left = 8
    if j % 7 == 6:
        # A small product on one side; the text still dominates.
        item = product(KINDS[j % len(KINDS)], int(H * 0.35), r)
        ph, pw = item.mask.shape
        if pw < W * 0.35:
            paste(canvas, item.image, item.mask.astype(np.float32), W - pw - 8, H - ph - 8)
            text_w = W - pw - 24
            tags.append("small_product")
    if j == 4:
        # A vertical Chinese title: one character under another, then the rest across.
        title = lines[0]
        ch = int(H * 0.8 / len(title))
        y = int(H * 0.08)
        for c in title:
            _draw.draw_text(
                canvas, c, "cjk_bold", ch, x_left + 4, y, _draw.contrast_ink(canvas, (0, 0, W, H))
            )
            y += int(ch * 1.05)
        lines = lines[1:]
        x_left += ch + 20
        text_w = W - x_left - 8
        tags.append("vertical_cjk")
    n = len(lines)
    slot_h = int(H * 0.84 / max(n, 1))
    y = int(H * 0.08)
    ink = _draw.contrast_ink(canvas, (0, 0, W, H))
    accent = _draw.any_colour(r)
    if abs(float(np.mean(accent)) - float(canvas.mean())) < 70:
        accent = ink
    for i, text in enumerate(lines):
        small = i == n - 1 and n >= 3
        fk = (
            "cjk_bold"
            if any("\u3400" <= c <= "\u9fff" for c in text)
            else ("sans_bold" if i % 2 == 0 else "serif_bold")
        )
        max_h = int(slot_h * (0.55 if small else 0.95))
        pt = _draw.fit_size(text, fk, text_w, max_h, max_h)
        tw, th = _draw.text_extent(text, fk, pt)
        x = x_left + (text_w - tw) // 2
        fill = accent if (i == 1 and not small) else ink
        _draw.draw_text(canvas, text, fk, pt, x, y + (slot_h - th) // 2, fill, stroke=1 if style == 0 else 0)
        y += slot_h
    return canvas, "drawn:poster", tags


# --- collage -------------------------------------------------------------------------------------

COLLAGE_POOL = (
    "skl:china.jpg",
    "skl:flower.jpg",
    "cv:fruits.jpg",
    "cv:messi5.jpg",
    "sk:astronaut",
    "sk:coffee",
    "cv:building.jpg",
    "cv:squirrel_cls.jpg",
    "cv:butterfly.jpg",
    "sk:chelsea",
    "cv:apple.jpg",
    "cv:home.jpg",
    "cv:leuvenA.jpg",
    "sk:rocket",
    "cv:baboon.jpg",
    "cv:starry_night.jpg",
    "sk:stereo_motorcycle",
    "cv:orange.jpg",
    "video:Megamind.avi@120",
    "video:bikes.mp4@115",
)
GRIDS = ((1, 2), (2, 1), (2, 2), (1, 3), (3, 1), (2, 3), (3, 3), (3, 2))


def _tile(name: str, w: int, h: int, r: np.random.Generator) -> Image:
    if name == "product":
        canvas = _draw.plain(w, h, r)
        item = product(KINDS[int(r.integers(len(KINDS)))], int(h * 0.7), r)
        ph, pw = item.mask.shape
        if pw > w * 0.9:
            item = product(item.kind, int(ph * w * 0.85 / pw), r)
            ph, pw = item.mask.shape
        paste(canvas, item.image, item.mask.astype(np.float32), (w - pw) // 2, (h - ph) // 2)
        return canvas
    return cover(_source(name), w, h, (float(r.uniform(0.35, 0.65)), float(r.uniform(0.35, 0.65))))


def _pick(r: np.random.Generator, n: int) -> list[str]:
    pool = [*COLLAGE_POOL, "product", "product"]
    idx = r.permutation(len(pool))[:n]
    return [pool[int(i)] for i in idx]


def _collage(j: int, r: np.random.Generator, size: tuple[int, int]) -> tuple[Image, str, list[str]]:
    W, H = size
    tags = ["drawn"]
    if j < 16:
        rows, cols = GRIDS[j % len(GRIDS)]
        gutter = (0, 3, 6, 12)[(j // 2) % 4] if j % 2 else 0
        colour = ((255, 255, 255), (0, 0, 0), (60, 180, 230), (235, 235, 235))[j % 4]
        canvas = solid(W, H, colour)
        names = _pick(r, rows * cols)
        cw = (W - gutter * (cols + 1)) // cols
        ch = (H - gutter * (rows + 1)) // rows
        for k, name in enumerate(names):
            rr, cc = divmod(k, cols)
            x = gutter + cc * (cw + gutter)
            y = gutter + rr * (ch + gutter)
            canvas[y : y + ch, x : x + cw] = _tile(name, cw, ch, r)
        tags += [f"grid_{rows}x{cols}", "no_gutter" if gutter == 0 else f"gutter_{gutter}px"]
        return canvas, "drawn:grid", tags
    k = j - 16
    if k in (0, 1, 2):
        # Irregular mosaic: one big tile and two or three small ones.
        gutter = (0, 5, 8)[k]
        canvas = solid(W, H, (250, 250, 250))
        names = _pick(r, 4)
        big_w = int(W * 0.6)
        canvas[gutter : H - gutter, gutter:big_w] = _tile(names[0], big_w - gutter, H - 2 * gutter, r)
        n_small = 2 + k % 2
        sh = (H - gutter * (n_small + 1)) // n_small
        for s in range(n_small):
            y = gutter + s * (sh + gutter)
            canvas[y : y + sh, big_w + gutter : W - gutter] = _tile(
                names[1 + s], W - 2 * gutter - big_w, sh, r
            )
        tags += ["mosaic", "no_gutter" if gutter == 0 else f"gutter_{gutter}px"]
        return canvas, "drawn:mosaic", tags
    if k in (3, 4, 5):
        # Polaroid scatter: rotated prints with white borders, overlapping, on a surface.
        canvas = _draw.pattern(W, H, r, ("gravel", "brick", "checker")[k - 3])
        canvas = (canvas.astype(np.float32) * 0.6 + 60).astype(np.uint8)
        for name in _pick(r, 4):
            tw, th = int(W * r.uniform(0.32, 0.42)), int(H * r.uniform(0.3, 0.4))
            b = 6
            print_ = solid(tw + 2 * b, th + 3 * b, (245, 245, 245))
            print_[b : b + th, b : b + tw] = _tile(name, tw, th, r)
            angle = float(r.uniform(-20, 20))
            cov = rotate_layer(np.ones(print_.shape[:2], np.float32), angle)
            rgb = np.stack(
                [rotate_layer(print_[:, :, c].astype(np.float32), angle) for c in range(3)], axis=2
            )
            x = int(r.uniform(0, W - cov.shape[1] * 0.7))
            y = int(r.uniform(0, H - cov.shape[0] * 0.7))
            paste(canvas, np.clip(rgb, 0, 255).astype(np.uint8), cov, x, y)
        tags.append("polaroid_scatter")
        return canvas, "drawn:polaroids", tags
    # Before / after: two pictures side by side with a thin divider (or none).
    names = _pick(r, 2)
    canvas = np.concatenate([_tile(names[0], W // 2, H, r), _tile(names[1], W - W // 2, H, r)], axis=1)
    if k == 6:
        cv2.line(canvas, (W // 2, 0), (W // 2, H), (255, 255, 255), 2)
        tags.append("divider")
    else:
        tags.append("no_gutter")
    tags.append("split")
    return np.ascontiguousarray(canvas), "drawn:split", tags


BUILDERS: dict[str, Callable[[int, np.random.Generator, tuple[int, int]], tuple[Image, str, list[str]]]] = {
    "plain_product": _plain_product,
    "lifestyle": _lifestyle,
    "person": _person,
    "detail_closeup": _detail,
    "text_poster": _poster,
    "collage": _collage,
}


def case(index: int) -> SceneCase:
    """Case `index` (0..COUNT-1): class ``CLASSES[index // 24]``, the same pixels every time."""
    if not 0 <= index < COUNT:
        raise IndexError(index)
    label = CLASSES[index // PER_CLASS]
    j = index % PER_CLASS
    r = rng(SEED, "scene", index)
    size = SIZES[(index * 7 + j) % len(SIZES)]
    image, source, tags = BUILDERS[label](j, r, size)
    return SceneCase(
        f"sc{index:03d}", np.ascontiguousarray(image, dtype=np.uint8), label, source, tuple(tags)
    )


def build(indices: Iterable[int] | None = None) -> list[SceneCase]:
    """Cases `indices` (all `COUNT` by default), in order."""
    return [case(i) for i in (range(COUNT) if indices is None else indices)]
