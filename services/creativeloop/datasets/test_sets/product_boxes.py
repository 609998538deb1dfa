"""Main-product box and mask: 96 labelled composites, written independently of the locator.

How it was made
---------------
Written for issue 16 without reading the locator (``understanding/product_box.py`` beyond the
``locate_product``/``ProductBox`` signatures), its tuning data or the project's cut-out
generator. Each case draws one main product with an exact silhouette (`_products`: ten drawn
kinds dressed with real-photo labels and textures, and three real shapes: scikit-image's horse,
opencv-doc's templ.png head and HappyFish.jpg) onto a background, then adds what an ad puts
around a product. The ground truth is the silhouette as placed, so it is exact to the pixel.

Twelve scenarios x 8 cases (`SCENARIOS`), seed `SEED`:

============================  ==================================================================
studio                        plain or gradient background, product roughly centred (control)
drop_shadow                   hard or soft drop shadow offset from the product; some reflections
text_nearby                   headline, sub-line and price around the product, not touching it
text_overlap                  headline and price over the product's edge; half with a giant word
                              *behind* the product (the product hides part of it)
badge                         round or star-burst sale sticker over a product corner; corner ribbon
text_badge_shadow             all of the above at once, on plain, gradient or patterned grounds
busy_photo                    real photos behind (china, building, fruits, starry_night ...), some
                              blurred, with a contact shadow and sometimes a caption
patterned                     checks, stripes, dots, brick, gravel, chessboard, cards, notes, sudoku
multi_object                  two or three smaller props (other products) beside the main one;
                              the main product's area is at least 2.5x each prop's
off_centre                    product in the left or right third, copy text on the other side
cropped                       10-35 % of the product's silhouette outside the frame
low_contrast                  product colour close to the background's, a thin frame and a logo
============================  ==================================================================

Ground truth (`ProductBoxCase`): ``mask`` is the main product's whole silhouette inside the
frame, *including* the pixels where text or a badge is drawn over it (the product is still
there); ``visible_mask`` removes those covered pixels; ``box`` is the (x, y, w, h) of ``mask``.
Shadows, reflections, props, text and badges are never part of the mask. ``tags`` say which of
text / badge / shadow / ... each case has, for sub-group scores (``has_text_overlay``: any text
or badge drawn on the picture, the split the issue reports).

Counts: 96 cases; 52 with text or a badge drawn on the picture (24 of them over the product
itself), 44 without; 16 with a drop shadow, 3 reflections, 8 multi-object (2 or 3 props), 8
off-centre, 8 cropped, 8 low-contrast; backgrounds 33 plain, 36 gradient, 11 patterned, 16 real
photos; 13 product kinds, 7-8 cases each.

Scoring: IoU of the predicted mask with ``mask`` (primary) and with ``visible_mask`` (a locator
that leaves out text drawn over the product is not wrong there), IoU of the predicted box with
``box``; report the mean and the share >= 0.8, overall and split by ``has_text_overlay`` and by
scenario. Image sizes vary (320x320, 400x300, 300x400, 360x240, 256x384), BGR uint8. Build all
96 with `build()` (about 5 s on one core) or one with `case(i)`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from creativeloop.datasets.test_sets import _draw
from creativeloop.datasets.test_sets._media import Image, Mask, box_of, paste, place_mask, rng
from creativeloop.datasets.test_sets._products import KINDS, PALETTE, product

SEED = 16_001
PER_SCENARIO = 8
SCENARIOS: tuple[str, ...] = (
    "studio",
    "drop_shadow",
    "text_nearby",
    "text_overlap",
    "badge",
    "text_badge_shadow",
    "busy_photo",
    "patterned",
    "multi_object",
    "off_centre",
    "cropped",
    "low_contrast",
)
COUNT = PER_SCENARIO * len(SCENARIOS)
SIZES = ((320, 320), (400, 300), (300, 400), (360, 240), (256, 384))

HEADLINES = (
    "Summer Sale",
    "NEW ARRIVAL",
    "限时特惠",
    "Only Today",
    "新品上市",
    "Best Seller",
    "Free Shipping",
    "买一送一",
    "Limited Edition",
    "Fresh Drop",
    "爆款直降",
    "Back in Stock",
)
SUBLINES = ("Shop now", "立即购买", "while stocks last", "全场包邮", "2 for 1", "Members save more")
PRICES = ("$49.90", "¥199", "€29", "-30%", "¥88.00", "$12", "99元", "£35")
BADGES = ("-30%", "NEW", "新品", "HOT", "SALE", "-50%", "1+1", "热卖")
GIANT_WORDS = ("FRESH", "BOLD", "夏日", "PURE", "STYLE", "新品")


@dataclass(frozen=True)
class ProductBoxCase:
    case_id: str
    image: Image
    mask: Mask
    visible_mask: Mask
    box: tuple[int, int, int, int]
    scenario: str
    kind: str
    tags: tuple[str, ...]

    @property
    def has_text_overlay(self) -> bool:
        return "text" in self.tags or "badge" in self.tags

    @property
    def mask_u8(self) -> Image:
        """The mask as 0/255 uint8, the same form as ``ProductBox.mask``."""
        return (self.mask.astype(np.uint8) * 255).astype(np.uint8)

    def label(self) -> dict[str, Any]:
        return {
            "id": self.case_id,
            "width": int(self.image.shape[1]),
            "height": int(self.image.shape[0]),
            "box": list(self.box),
            "mask_area": int(self.mask.sum()),
            "visible_area": int(self.visible_mask.sum()),
            "scenario": self.scenario,
            "kind": self.kind,
            "tags": list(self.tags),
        }


def _background(w: int, h: int, r: np.random.Generator, allowed: tuple[str, ...]) -> tuple[Image, str]:
    choice = allowed[int(r.integers(len(allowed)))]
    if choice == "plain":
        return _draw.plain(w, h, r), "plain_background"
    if choice == "gradient":
        return _draw.gradient(w, h, r), "gradient_background"
    if choice == "pattern":
        return _draw.pattern(w, h, r), "patterned_background"
    return _draw.busy(w, h, r), "photo_background"


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int], margin: int = 0) -> bool:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return not (
        ax + aw + margin <= bx or bx + bw + margin <= ax or ay + ah + margin <= by or by + bh + margin <= ay
    )


def case(index: int) -> ProductBoxCase:
    """Case `index` (0..COUNT-1); the same pixels and labels every time."""
    if not 0 <= index < COUNT:
        raise IndexError(index)
    scenario = SCENARIOS[index // PER_SCENARIO]
    j = index % PER_SCENARIO
    r = rng(SEED, "product_box", index)
    W, H = SIZES[(index * 3 + j) % len(SIZES)]
    kind = KINDS[(index * 7 + 3) % len(KINDS)]
    tags: list[str] = []

    grounds: tuple[str, ...] = ("plain", "gradient")
    if scenario in ("busy_photo",):
        grounds = ("photo",)
    elif scenario == "patterned":
        grounds = ("pattern",)
    elif scenario in ("text_badge_shadow",):
        grounds = ("plain", "gradient", "pattern")
    elif scenario in ("text_overlap", "multi_object", "cropped"):
        grounds = ("plain", "gradient", "photo")
    canvas, ground_tag = _background(W, H, r, grounds)
    tags.append(ground_tag)

    # Size and place the main product.
    frac = float(r.uniform(0.5, 0.72))
    if scenario == "multi_object":
        frac = float(r.uniform(0.5, 0.62))
    if scenario == "cropped":
        frac = float(r.uniform(0.6, 0.85))
    ph = int(H * frac)
    aspect_w = int(ph * _aspect(kind))
    if aspect_w > W * 0.8 and scenario != "cropped":
        ph = int(ph * W * 0.8 / aspect_w)
    colour: tuple[int, int, int] | None = None
    if scenario == "low_contrast":
        mean = canvas.reshape(-1, 3).mean(axis=0)
        shift = r.integers(-28, 29, size=3)
        b, g, rr = np.clip(mean + shift, 0, 255).astype(int)
        colour = (int(b), int(g), int(rr))
    item = product(kind, ph, r, colour=colour)
    pw, ph = item.mask.shape[1], item.mask.shape[0]
    if scenario == "off_centre":
        left = bool(r.random() < 0.5)
        cx = int(W * (r.uniform(0.16, 0.3) if left else r.uniform(0.7, 0.84)))
        cy = int(H * r.uniform(0.42, 0.6))
        tags.append("off_centre")
    elif scenario == "cropped":
        cx, cy = _cropped_centre(item.mask, W, H, r)
        tags.append("cropped")
    else:
        cx = int(W * r.uniform(0.42, 0.58))
        cy = int(H * r.uniform(0.45, 0.58))
    x = cx - pw // 2
    y = cy - ph // 2
    if scenario != "cropped":
        x = int(np.clip(x, 2, W - pw - 2)) if pw < W - 4 else (W - pw) // 2
        y = int(np.clip(y, 2, H - ph - 2)) if ph < H - 4 else (H - ph) // 2
    mask = place_mask((H, W), item.mask, x, y)
    pbox = box_of(mask)

    # Shadows and reflections (under the product).
    if scenario in ("drop_shadow", "text_badge_shadow") or (scenario == "studio" and j % 2 == 0):
        if scenario == "studio":
            _draw.contact_shadow(canvas, pbox[0] + pbox[2] // 2, pbox[1] + pbox[3], pbox[2] // 2, 0.45)
            tags.append("contact_shadow")
        else:
            hard = bool(r.random() < 0.5)
            d = max(4, int(ph * r.uniform(0.04, 0.1)))
            dx = d if r.random() < 0.6 else -d
            _draw.shadow(canvas, mask, dx, d, 1.5 if hard else float(ph * 0.05), 0.55 if hard else 0.6)
            tags.append("drop_shadow")
            if scenario == "drop_shadow" and j in (1, 4, 6):
                _reflect(canvas, item.image, item.mask, x, y)
                tags.append("reflection")
    if scenario == "busy_photo":
        _draw.contact_shadow(canvas, pbox[0] + pbox[2] // 2, pbox[1] + pbox[3], pbox[2] // 2, 0.5)

    # Giant word behind the product.
    covered = np.zeros((H, W), np.float32)
    if scenario == "text_overlap" and j % 2 == 1:
        word = GIANT_WORDS[int(r.integers(len(GIANT_WORDS)))]
        fk = "cjk_bold" if _is_cjk(word) else "sans_bold"
        size = _draw.fit_size(word, fk, int(W * 0.95), int(H * 0.45), int(H * 0.4))
        tw, th = _draw.text_extent(word, fk, size)
        ink = _draw.contrast_ink(canvas, (0, 0, W, H))
        _draw.draw_text(canvas, word, fk, size, (W - tw) // 2, cy - th // 2, ink)
        tags += ["text", "text_behind"]

    # Props.
    if scenario == "multi_object":
        _props(canvas, mask, int(mask.sum()), ph, W, H, r, j, tags)

    # The product itself.
    alpha = item.mask.astype(np.float32)
    paste(canvas, item.image, alpha, x, y)

    # Overlays over the product.
    if scenario in ("text_nearby", "off_centre") or (scenario == "busy_photo" and j % 2 == 0):
        covered = np.maximum(covered, _text_around(canvas, pbox, W, H, r, tags, scenario))
    if scenario in ("text_overlap", "text_badge_shadow"):
        covered = np.maximum(covered, _text_over(canvas, pbox, W, H, r, tags))
    if scenario in ("badge", "text_badge_shadow"):
        covered = np.maximum(covered, _badges(canvas, pbox, W, H, r, tags, ribbon=j % 2 == 0))
    if scenario == "low_contrast":
        covered = np.maximum(covered, _frame_and_logo(canvas, W, H, r, tags))
        tags.append("low_contrast")

    visible = mask & (covered < 0.5)
    if (mask & (covered >= 0.5)).any():
        tags.append("overlay_on_product")
    return ProductBoxCase(
        case_id=f"pb{index:03d}",
        image=np.ascontiguousarray(canvas),
        mask=mask,
        visible_mask=visible,
        box=box_of(mask),
        scenario=scenario,
        kind=kind,
        tags=tuple(dict.fromkeys(tags)),
    )


def build(indices: Iterable[int] | None = None) -> list[ProductBoxCase]:
    """Cases `indices` (all `COUNT` by default), in order."""
    return [case(i) for i in (range(COUNT) if indices is None else indices)]


def _aspect(kind: str) -> float:
    from creativeloop.datasets.test_sets._products import ASPECTS

    return ASPECTS[kind]


def _is_cjk(text: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" for ch in text)


def _face(text: str, bold: bool = True) -> str:
    if _is_cjk(text):
        return "cjk_bold" if bold else "cjk"
    return "sans_bold" if bold else "sans"


def _cropped_centre(m: Mask, W: int, H: int, r: np.random.Generator) -> tuple[int, int]:
    """A centre that puts 10-35 % of the silhouette outside the frame, through one or two sides."""
    ph, pw = m.shape
    total = int(m.sum())
    target = float(r.uniform(0.1, 0.35))
    side = int(r.integers(4))
    best = (W // 2, H // 2)
    best_err = 2.0
    for step in range(0, 400):
        t = step / 400
        if side == 0:  # off the left
            cx, cy = int(-pw / 2 + t * pw), H // 2
        elif side == 1:  # off the right
            cx, cy = int(W + pw / 2 - t * pw), H // 2
        elif side == 2:  # off the bottom
            cx, cy = W // 2, int(H + ph / 2 - t * ph)
        else:  # off the bottom-left corner
            cx, cy = int(-pw / 2 + t * pw), int(H + ph / 2 - t * ph)
        inside = int(place_mask((H, W), m, cx - pw // 2, cy - ph // 2).sum())
        err = abs((1 - inside / total) - target)
        if err < best_err:
            best, best_err = (cx, cy), err
    return best


def _reflect(canvas: Image, image: Image, mask: Mask, x: int, y: int) -> None:
    flipped = image[::-1]
    fm = mask[::-1].astype(np.float32)
    h = fm.shape[0]
    fade = np.linspace(0.35, 0.0, h, dtype=np.float32)[:, None]
    paste(canvas, flipped, fm * fade, x, y + h + 1)


def _props(
    canvas: Image,
    main: Mask,
    main_area: int,
    ph: int,
    W: int,
    H: int,
    r: np.random.Generator,
    j: int,
    tags: list[str],
) -> None:
    count = 2 + j % 2
    placed: list[tuple[int, int, int, int]] = [box_of(main)]
    for _ in range(count):
        kind = KINDS[int(r.integers(len(KINDS)))]
        for attempt in range(120):
            height = int(ph * r.uniform(0.3, 0.5) * (1 - attempt / 200))
            prop = product(kind, height, r, colour=PALETTE[int(r.integers(len(PALETTE)))])
            area = int(prop.mask.sum())
            if area * 2.5 > main_area:
                continue
            h, w = prop.mask.shape
            if w >= W - 4 or h >= H - 4:
                continue
            px = int(r.integers(2, W - w - 2))
            low = max(2, H // 3) if attempt < 60 else 2
            py = int(r.integers(low, max(low + 1, H - h - 2)))
            pbox = (px, py, w, h)
            if any(_overlaps(pbox, other, margin=4) for other in placed):
                continue
            paste(canvas, prop.image, prop.mask.astype(np.float32), px, py)
            placed.append(pbox)
            break
    if len(placed) > 1:
        tags.append("multi_object")
        tags.append(f"props_{len(placed) - 1}")


def _text_around(
    canvas: Image,
    pbox: tuple[int, int, int, int],
    W: int,
    H: int,
    r: np.random.Generator,
    tags: list[str],
    scenario: str,
) -> _draw.Coverage:
    """Headline, sub-line and price in the free space, never touching the product's box."""
    covered = np.zeros((H, W), np.float32)
    px, py, pw, ph = pbox
    lines = [
        HEADLINES[int(r.integers(len(HEADLINES)))],
        SUBLINES[int(r.integers(len(SUBLINES)))],
        PRICES[int(r.integers(len(PRICES)))],
    ]
    if scenario == "off_centre":
        # The free side, in three bands.
        left_free = px > W - (px + pw)
        x0, x1 = (4, px - 6) if left_free else (px + pw + 6, W - 4)
        slots = [
            (x0, x1, int(H * 0.14), int(H * 0.3)),
            (x0, x1, int(H * 0.38), int(H * 0.5)),
            (x0, x1, int(H * 0.58), int(H * 0.7)),
        ]
    else:
        slots = [
            (4, W - 4, 4, py - 4),
            (4, W - 4, py + ph + 4, H - 4),
            (px + pw + 6, W - 4, py + ph // 3, min(H - 4, py + ph // 3 + int(H * 0.16))),
        ]
    drawn = 0
    for text, (x0, x1, y0, y1) in zip(lines, slots, strict=True):
        avail_w, avail_h = x1 - x0, y1 - y0
        if avail_w < 24 or avail_h < 10:
            continue
        fk = _face(text, bold=drawn == 0)
        size = _draw.fit_size(text, fk, avail_w, min(avail_h, int(H * 0.14)), int(H * 0.12))
        tw, th = _draw.text_extent(text, fk, size)
        tx = x0 + max(0, (avail_w - tw) // 2)
        ty = y0 + max(0, (avail_h - th) // 2)
        tbox = (tx, ty, tw, th)
        if _overlaps(tbox, pbox, margin=2) or ty + th > H or tx + tw > W:
            continue
        ink = _draw.contrast_ink(canvas, tbox)
        covered = np.maximum(covered, _draw.draw_text(canvas, text, fk, size, tx, ty, ink))
        drawn += 1
    if drawn:
        tags += ["text", "text_nearby"]
    return covered


def _text_over(
    canvas: Image, pbox: tuple[int, int, int, int], W: int, H: int, r: np.random.Generator, tags: list[str]
) -> _draw.Coverage:
    """A headline across the product's top or bottom edge and a price over its side edge."""
    covered = np.zeros((H, W), np.float32)
    px, py, pw, ph = pbox
    text = HEADLINES[int(r.integers(len(HEADLINES)))]
    fk = _face(text)
    size = _draw.fit_size(text, fk, int(W * 0.9), int(H * 0.16), int(H * 0.14))
    tw, th = _draw.text_extent(text, fk, size)
    top_edge = bool(r.random() < 0.5)
    ty = py - th // 2 if top_edge else py + ph - th // 2
    ty = int(np.clip(ty, 2, H - th - 2))
    tx = int(np.clip(px + pw // 2 - tw // 2, 2, max(2, W - tw - 2)))
    stroke = 2 if r.random() < 0.5 else 0
    ink = _draw.any_colour(r)
    covered = np.maximum(
        covered,
        _draw.draw_text(canvas, text, fk, size, tx, ty, ink, stroke=stroke, stroke_fill=(255, 255, 255)),
    )
    price = PRICES[int(r.integers(len(PRICES)))]
    psize = max(12, int(H * 0.09))
    pw_t, ph_t = _draw.text_extent(price, "sans_bold", psize)
    right = px + pw + pw_t // 2 < W
    qx = px + pw - pw_t // 2 if right else px - pw_t // 2
    qy = int(np.clip(py + ph // 2, 2, H - ph_t - 2))
    qx = int(np.clip(qx, 2, max(2, W - pw_t - 2)))
    covered = np.maximum(
        covered,
        _draw.draw_text(
            canvas, price, "sans_bold", psize, qx, qy, (30, 30, 220), stroke=2, stroke_fill=(255, 255, 255)
        ),
    )
    tags += ["text", "text_overlap"]
    return covered


def _badges(
    canvas: Image,
    pbox: tuple[int, int, int, int],
    W: int,
    H: int,
    r: np.random.Generator,
    tags: list[str],
    *,
    ribbon: bool,
) -> _draw.Coverage:
    px, py, pw, ph = pbox
    corner = int(r.integers(4))
    cx = px + (pw if corner in (1, 2) else 0)
    cy = py + (ph if corner in (2, 3) else 0)
    radius = max(14, int(min(W, H) * r.uniform(0.08, 0.13)))
    cx = int(np.clip(cx, radius, W - radius))
    cy = int(np.clip(cy, radius, H - radius))
    text = BADGES[int(r.integers(len(BADGES)))]
    fill = ((30, 30, 220), (20, 200, 250), (40, 40, 40), (200, 80, 30))[int(r.integers(4))]
    covered = _draw.badge(canvas, cx, cy, radius, text, fill, (255, 255, 255), star=bool(r.random() < 0.5))
    tags.append("badge")
    if ribbon:
        covered = np.maximum(
            covered,
            _draw.ribbon(canvas, "SALE", (30, 30, 200), (255, 255, 255), "left" if cx > W // 2 else "right"),
        )
        tags.append("ribbon")
    return covered


def _frame_and_logo(canvas: Image, W: int, H: int, r: np.random.Generator, tags: list[str]) -> _draw.Coverage:
    import cv2

    t = max(2, int(min(W, H) * 0.015))
    ink = _draw.contrast_ink(canvas, (0, 0, W, H))
    cv2.rectangle(canvas, (t, t), (W - 1 - t, H - 1 - t), ink, t)
    frame = np.zeros((H, W), np.float32)
    cv2.rectangle(frame, (t, t), (W - 1 - t, H - 1 - t), 1.0, t)
    logo = ("maison", "LOOP", "木森", "nord.co")[int(r.integers(4))]
    size = max(10, int(H * 0.05))
    fk = _face(logo, bold=True)
    tw, th = _draw.text_extent(logo, fk, size)
    cov = _draw.draw_text(canvas, logo, fk, size, W - tw - 3 * t, H - th - 3 * t, ink)
    tags += ["border", "logo", "text"]
    return np.maximum(cov, frame)
