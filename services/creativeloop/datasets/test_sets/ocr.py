"""OCR: 96 rendered ad images with every line's text, box and reading order, written
independently of the OCR pipeline.

How it was made
---------------
Written for issue 16 without reading the pipeline (``understanding/ocr.py`` beyond the
``OcrPipeline.read`` / ``OcrLine`` / ``OcrResult`` signatures) or the project's ad-text
generator. The copy (English, Chinese and mixed lines, prices, feature lists) was written for
this set. Lines are drawn with DejaVu, Noto Sans/Serif CJK SC and WenQuanYi fonts onto plain,
gradient, patterned and real-photo backgrounds (opencv-doc, scikit-image, scikit-learn), some
with products from `_products`. Seed `SEED`.

Twelve layouts x 8 images (`LAYOUTS`):

==================  ===========================================================================
centered            headline, sub-line, price, call to action, centred, one column
left_block          a left-aligned block beside a product
two_column          full-width title, two columns of 3-4 lines whose rows sit at the *same
                    heights* (row-by-row reading interleaves them), full-width footer
three_column        title, three plan columns (name, price, two features), footer
two_column_cjk      two columns in Chinese or mixed Chinese/Latin
rotated             lines tilted by 4-25 degrees either way among straight ones
curved              one line set on an arc (sag 6-14 % of its width, letters 0-15 % wider apart
                    than normal) among straight ones
light_on_dark       white, yellow or pale text on dark grounds and dark photos
mixed_script        Chinese + Latin in one line (NEW 新品, USB-C 快充 ...)
price_tags          large headline, prices on round tags, 12-14 px fine print
busy_photo          text with an outline or shadow straight on busy real photos
poster              a few very large words, various sizes, one serif
==================  ===========================================================================

Ground truth (`OcrTruthLine`): ``text`` exactly as drawn; ``order`` the reading order (0 first);
``block`` which region the line belongs to (0 for full-width lines, 1.. for columns left to
right); ``box`` the axis-aligned (x, y, w, h) of the line's own ink (coverage >= 0.3, strokes
included); ``quad`` four (x, y) points clockwise from the text's top-left (rotated with the
line; for an arc, the minimum-area rectangle of its ink); ``angle`` in degrees
(counter-clockwise); ``curved``.

Reading order rule, decided before any layout was drawn: full-width lines top to bottom; where
columns sit side by side, all of column 1 top to bottom, then column 2, and so on; a tilted or
curved line goes where its centre falls. Line boxes never overlap. Images are 480-720 px a side.

Counts: 96 images, 528 lines, 6,112 characters; 132 lines with Chinese (36 of them mixed with
Latin), 20 tilted lines, 8 arcs, 24 multi-column images (8 two-column English, 8 three-column,
8 two-column Chinese/mixed); ink heights from 12 px (fine print) up.

Scoring: compare text after Unicode NFKC (full-width punctuation and letters fold to ASCII) and
with whitespace removed (letter-spaced arcs and CJK/Latin spacing are not errors); character
accuracy = 1 - edit distance / truth length over all lines in reading order. Detection: a
predicted line matches a truth line one to one at IoU >= 0.5 of their axis-aligned boxes (the
quads for tilted lines, if the scorer supports polygons). Reading order: take the matched truth
lines in the order the reader returned them; the image is read right when that sequence equals
the truth ``order`` sorted; report that share on the multi-column images, and Kendall's tau.
A reader that merges two adjacent lines into one is scored by the detection figures, not here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from creativeloop.datasets.test_sets import _draw
from creativeloop.datasets.test_sets._media import (
    Image,
    font,
    paste,
    rng,
    rotate_layer,
    solid,
    text_layer,
)
from creativeloop.datasets.test_sets._products import KINDS, product

SEED = 16_004
LAYOUTS: tuple[str, ...] = (
    "centered",
    "left_block",
    "two_column",
    "three_column",
    "two_column_cjk",
    "rotated",
    "curved",
    "light_on_dark",
    "mixed_script",
    "price_tags",
    "busy_photo",
    "poster",
)
MULTI_COLUMN = ("two_column", "three_column", "two_column_cjk")
PER_LAYOUT = 8
COUNT = PER_LAYOUT * len(LAYOUTS)
SIZES = ((640, 480), (480, 640), (720, 405), (600, 600), (560, 700))
#: Wider pictures for the column layouts, so that column text stays >= 13 px.
COLUMN_SIZES = ((640, 480), (600, 600), (720, 540), (640, 640))
INK_THRESHOLD = 0.3

EN_HEAD = (
    "Summer Sale",
    "New Arrivals",
    "Flash Deal",
    "Weekend Special",
    "Limited Edition",
    "Back to School",
    "Holiday Gift Guide",
    "Fresh and Natural",
    "Pure Comfort",
    "Made to Last",
    "Spring Collection",
    "Members Only",
)
EN_SUB = (
    "Up to 50% off selected styles",
    "Free shipping on orders over $49",
    "Ends Sunday at midnight",
    "Handmade in small batches",
    "Available in 6 colours",
    "Order today, delivered tomorrow",
    "Save 20% with code SPRING20",
    "Only 120 pieces left",
    "New colours every week",
    "Designed in Oslo",
)
EN_CTA = ("Shop Now", "Learn More", "Buy 2 Get 1 Free", "Order Online", "Visit our store", "Join today")
PRICES = ("$49.90", "$129", "Now $19.99", "$56", "¥199", "¥1299", "From $9", "$7.50", "¥88")
FEATURES_EN = (
    "Waterproof to 50 m",
    "48-hour battery",
    "Recycled materials",
    "2-year warranty",
    "Machine washable",
    "Lightweight 320 g",
    "Noise cancelling",
    "Fast charging",
    "Vegan leather",
    "Fits 15-inch laptops",
    "Dishwasher safe",
    "Made in Portugal",
    "Organic cotton",
    "UV protection",
    "Free returns",
    "Ships in 24 hours",
)
COLUMN_HEADS_EN = ("Design", "Comfort", "Care", "Power", "Sound", "Travel", "Kitchen", "Outdoor")
PLAN_FEATURES = (
    "1 user",
    "5 GB storage",
    "Email support",
    "10 users",
    "1 TB storage",
    "24/7 support",
    "API access",
    "Custom domain",
    "No ads",
    "Offline mode",
    "Team folders",
    "Priority chat",
)
PLANS = (("Basic", "$9"), ("Plus", "$19"), ("Pro", "$29"), ("Lite", "$5"), ("Max", "$49"), ("Team", "$99"))
ZH_HEAD = (
    "夏日清凉特惠",
    "新品首发",
    "限时秒杀",
    "周末狂欢",
    "品质生活馆",
    "开学季大促",
    "年货节",
    "春季新款上市",
)
ZH_SUB = (
    "全场满299减50",
    "第二件半价",
    "下单即送精美礼品",
    "会员专享八折",
    "七天无理由退换",
    "顺丰包邮",
    "今晚八点准时开抢",
    "限量1000件",
)
FEATURES_ZH = (
    "防水防汗",
    "超长续航",
    "轻盈便携",
    "环保材质",
    "一年质保",
    "柔软亲肤",
    "快速充电",
    "静音设计",
    "大容量收纳",
    "透气舒适",
    "耐磨防滑",
    "抗菌面料",
)
COLUMN_HEADS_ZH = ("产品亮点", "贴心服务", "材质工艺", "使用场景", "Features", "Service")
MIXED = (
    "新品上市 NEW ARRIVAL",
    "限时8折 Only 3 days",
    "全场包邮 Free Shipping",
    "¥199起 From $29",
    "扫码领券 Scan for coupon",
    "买一送一 Buy 1 Get 1",
    "iPhone 15 保护壳",
    "USB-C 快充 20W",
    "4K 超清投影仪",
    "会员日 Member Day",
    "双11 预售开启",
    "Wi-Fi 6 路由器",
)
FINE_PRINT = (
    "Offer valid until 30 June while stocks last.",
    "Prices include VAT. Delivery not included.",
    "See store for details. One per customer.",
    "活动最终解释权归本店所有",
    "图片仅供参考,以实物为准",
)
POSTER_WORDS = ("BIG", "SALE", "NOW", "OPEN", "夏日", "特卖", "FRESH", "DEALS", "GO", "LIVE")


@dataclass(frozen=True)
class OcrTruthLine:
    text: str
    order: int
    block: int
    box: tuple[int, int, int, int]
    quad: tuple[tuple[float, float], ...]
    angle: float
    curved: bool

    def to_label(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "order": self.order,
            "block": self.block,
            "box": list(self.box),
            "quad": [list(p) for p in self.quad],
            "angle": self.angle,
            "curved": self.curved,
        }


@dataclass(frozen=True)
class OcrCase:
    case_id: str
    image: Image
    layout: str
    lines: tuple[OcrTruthLine, ...]
    tags: tuple[str, ...]

    @property
    def multi_column(self) -> bool:
        return self.layout in MULTI_COLUMN

    def in_reading_order(self) -> list[OcrTruthLine]:
        return sorted(self.lines, key=lambda line: line.order)

    @property
    def text(self) -> str:
        """All lines in reading order, one per line."""
        return "\n".join(line.text for line in self.in_reading_order())

    def to_label(self) -> dict[str, Any]:
        return {
            "id": self.case_id,
            "layout": self.layout,
            "width": int(self.image.shape[1]),
            "height": int(self.image.shape[0]),
            "tags": list(self.tags),
            "lines": [line.to_label() for line in self.in_reading_order()],
        }


# --- drawing lines -------------------------------------------------------------------------------


@dataclass
class _Drawn:
    text: str
    block: int
    box: tuple[int, int, int, int]
    quad: tuple[tuple[float, float], ...]
    angle: float
    curved: bool
    #: Where the reading order places it: (block band, column, y centre).
    key: tuple[float, float, float]


def _is_cjk(text: str) -> bool:
    return any("\u3400" <= c <= "\u9fff" for c in text)


def _ink_box(cov: npt.NDArray[np.float32]) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(cov >= INK_THRESHOLD)
    if len(xs) == 0:
        raise ValueError("a line drew no ink inside the picture")
    return int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


class _Page:
    """A canvas and the lines drawn on it so far."""

    def __init__(self, canvas: Image) -> None:
        self.canvas = canvas
        self.h, self.w = canvas.shape[:2]
        self.lines: list[_Drawn] = []

    def extent(self, text: str, fk: str, size: int, stroke: int = 0) -> tuple[int, int]:
        return _draw.text_extent(text, fk, size, stroke)

    def line(
        self,
        text: str,
        fk: str,
        size: int,
        x: int,
        y: int,
        ink: Sequence[int],
        *,
        block: int = 0,
        column: float = 0.0,
        band: float | None = None,
        stroke: int = 0,
        stroke_fill: Sequence[int] = (0, 0, 0),
        angle: float = 0.0,
    ) -> _Drawn:
        """Draw `text` with its layer's top-left at (x, y); record its ink box and quad."""
        face = font(fk, size)
        layer = text_layer(text, face, pad=2 + stroke)
        lh, lw = layer.shape
        ink_rows, ink_cols = np.nonzero(layer >= INK_THRESHOLD)
        corners = np.array(
            [
                [ink_cols.min(), ink_rows.min()],
                [ink_cols.max() + 1, ink_rows.min()],
                [ink_cols.max() + 1, ink_rows.max() + 1],
                [ink_cols.min(), ink_rows.max() + 1],
            ],
            dtype=np.float64,
        )
        if angle:
            matrix = cv2.getRotationMatrix2D((lw / 2, lh / 2), angle, 1.0)
            cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
            nw, nh = int(np.ceil(lh * sin + lw * cos)) + 2, int(np.ceil(lh * cos + lw * sin)) + 2
            matrix[0, 2] += nw / 2 - lw / 2
            matrix[1, 2] += nh / 2 - lh / 2
            corners = corners @ matrix[:, :2].T + matrix[:, 2]
        cov = _draw.draw_text(
            self.canvas, text, fk, size, x, y, ink, stroke=stroke, stroke_fill=stroke_fill, angle=angle
        )
        box = _ink_box(cov)
        quad = tuple((round(float(cx) + x, 1), round(float(cy) + y, 1)) for cx, cy in corners)
        cy = box[1] + box[3] / 2
        drawn = _Drawn(text, block, box, quad, angle, False, (cy if band is None else band, column, cy))
        self.lines.append(drawn)
        return drawn

    def arc_line(
        self, text: str, fk: str, size: int, cx: int, top: int, spacing: float, sag: float, ink: Sequence[int]
    ) -> _Drawn:
        """`text` set along a circular arc (its ends `sag` x width lower than its middle), its
        letters `spacing` times their natural advance apart (>= 1: they never touch)."""
        face = font(fk, size)
        while size > 12 and sum(float(face.getlength(c)) for c in text) * spacing > self.w * 0.85:
            size = int(size * 0.9)
            face = font(fk, size)
        advances = [float(face.getlength(c)) for c in text]
        total = sum(advances)
        scale = spacing
        width = total * spacing
        s = sag * width
        radius = (width / 2) ** 2 / (2 * s) + s / 2
        centre_y = top + size + radius
        full = np.zeros((self.h, self.w), np.float32)
        pos = -width / 2
        for c, adv in zip(text, advances, strict=True):
            mid = pos + adv * scale / 2
            pos += adv * scale
            if c == " ":
                continue
            theta = mid / radius
            gx = cx + radius * np.sin(theta)
            gy = centre_y - radius * np.cos(theta)
            glyph = text_layer(c, face, pad=2)
            rot = rotate_layer(glyph, -np.degrees(theta))
            gh, gw = rot.shape
            x0, y0 = round(gx - gw / 2), round(gy - gh / 2)
            paste(self.canvas, solid(gw, gh, ink), rot, x0, y0)
            xa, ya, xb, yb = max(0, x0), max(0, y0), min(self.w, x0 + gw), min(self.h, y0 + gh)
            if xa < xb and ya < yb:
                region = full[ya:yb, xa:xb]
                np.maximum(region, rot[ya - y0 : yb - y0, xa - x0 : xb - x0], out=region)
        box = _ink_box(full)
        pts = np.column_stack(np.nonzero(full >= INK_THRESHOLD)[::-1]).astype(np.float32)
        rect = np.asarray(cv2.boxPoints(cv2.minAreaRect(pts)), dtype=np.float32)
        quad = _clockwise(rect)
        cyc = box[1] + box[3] / 2
        drawn = _Drawn(text, 0, box, quad, 0.0, True, (cyc, 0.0, cyc))
        self.lines.append(drawn)
        return drawn

    def finish(self) -> tuple[OcrTruthLine, ...]:
        ordered = sorted(self.lines, key=lambda d: d.key)
        return tuple(
            OcrTruthLine(d.text, i, d.block, d.box, d.quad, d.angle, d.curved) for i, d in enumerate(ordered)
        )


def _clockwise(points: npt.NDArray[np.float32]) -> tuple[tuple[float, float], ...]:
    pts = np.asarray(points, dtype=np.float64)
    centre = pts.mean(axis=0)
    angles = np.arctan2(pts[:, 1] - centre[1], pts[:, 0] - centre[0])
    pts = pts[np.argsort(angles)]  # clockwise on screen (y down)
    start = int(np.argmin(pts[:, 0] + pts[:, 1]))
    pts = np.roll(pts, -start, axis=0)
    return tuple((round(float(x), 1), round(float(y), 1)) for x, y in pts)


def _draw_overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int], margin: int) -> bool:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return not (
        ax + aw + margin <= bx or bx + bw + margin <= ax or ay + ah + margin <= by or by + bh + margin <= ay
    )


def _latin(r: np.random.Generator, bold: bool) -> str:
    if bold:
        return ("sans_bold", "serif_bold", "sans_cond_bold")[int(r.integers(3))]
    return ("sans", "serif", "sans_oblique", "serif_italic")[int(r.integers(4))]


def _face_for(text: str, r: np.random.Generator, bold: bool) -> str:
    if _is_cjk(text) or "¥" in text:
        return (
            ("cjk_bold", "cjk_serif_bold")[int(r.integers(2))]
            if bold
            else ("cjk", "wqy", "cjk_serif")[int(r.integers(3))]
        )
    return _latin(r, bold)


def _pick(r: np.random.Generator, options: Sequence[str], n: int) -> list[str]:
    idx = r.permutation(len(options))[:n]
    return [options[int(i)] for i in idx]


def _ground(W: int, H: int, r: np.random.Generator, kind: str) -> Image:
    if kind == "plain":
        return _draw.plain(W, H, r)
    if kind == "gradient":
        return _draw.gradient(W, H, r)
    if kind == "pattern":
        p = _draw.pattern(W, H, r, ("stripes", "dots", "checker")[int(r.integers(3))])
        return (p.astype(np.float32) * 0.25 + 180).astype(np.uint8)
    if kind == "dark":
        b, g, rr = r.integers(0, 60, size=3)
        return solid(W, H, (int(b), int(g), int(rr)))
    if kind == "dark_photo":
        return (_draw.busy(W, H, r, blur=True).astype(np.float32) * 0.35).astype(np.uint8)
    if kind == "light_photo":
        return (_draw.busy(W, H, r, blur=True).astype(np.float32) * 0.35 + 160).astype(np.uint8)
    return _draw.busy(W, H, r, blur=False)


def _ink(page: _Page, box: tuple[int, int, int, int]) -> tuple[int, int, int]:
    return _draw.contrast_ink(page.canvas, box)


def _stack(
    page: _Page,
    items: Sequence[tuple[str, str, int]],
    x0: int,
    x1: int,
    y: int,
    r: np.random.Generator,
    *,
    align: str = "center",
    block: int = 0,
    column: float = 0.0,
    band: float | None = None,
    gap: float = 0.45,
    ink: Sequence[int] | None = None,
    stroke: int = 0,
    stroke_fill: Sequence[int] = (0, 0, 0),
) -> int:
    """Lines one under another between x0 and x1 from `y`; returns the y under the last one."""
    for text, fk, size in items:
        sz = _draw.fit_size(text, fk, x1 - x0, size * 2, size)
        tw, th = page.extent(text, fk, sz, stroke)
        x = x0 + (x1 - x0 - tw) // 2 if align == "center" else (x0 if align == "left" else x1 - tw)
        colour = ink if ink is not None else _ink(page, (x, y, tw, th))
        page.line(
            text,
            fk,
            sz,
            x,
            y,
            colour,
            block=block,
            column=column,
            band=band,
            stroke=stroke,
            stroke_fill=stroke_fill,
        )
        y += th + int(sz * gap)
    return y


# --- layouts -------------------------------------------------------------------------------------


def _centered(page: _Page, r: np.random.Generator, j: int, tags: list[str]) -> None:
    W, H = page.w, page.h
    cjk = j % 3 == 2
    head = ZH_HEAD[j % len(ZH_HEAD)] if cjk else EN_HEAD[j % len(EN_HEAD)]
    sub = ZH_SUB[j % len(ZH_SUB)] if cjk else EN_SUB[j % len(EN_SUB)]
    items = [
        (head, _face_for(head, r, True), int(H * 0.11)),
        (sub, _face_for(sub, r, False), int(H * 0.05)),
        (PRICES[j % len(PRICES)], _face_for(PRICES[j % len(PRICES)], r, True), int(H * 0.08)),
        (EN_CTA[j % len(EN_CTA)], _latin(r, True), int(H * 0.045)),
    ]
    _stack(page, items, 20, W - 20, int(H * 0.14), r, gap=0.6)
    if cjk:
        tags.append("cjk")


def _left_block(page: _Page, r: np.random.Generator, j: int, tags: list[str]) -> None:
    W, H = page.w, page.h
    item = product(KINDS[j % len(KINDS)], int(H * 0.6), r)
    ph, pw = item.mask.shape
    if pw > W * 0.42:
        item = product(item.kind, int(ph * W * 0.4 / pw), r)
        ph, pw = item.mask.shape
    paste(page.canvas, item.image, item.mask.astype(np.float32), W - pw - 20, (H - ph) // 2)
    x1 = W - pw - 40
    head = EN_HEAD[(j + 3) % len(EN_HEAD)]
    subs = _pick(r, EN_SUB, 2)
    items = [
        (head, _latin(r, True), int(H * 0.08)),
        (subs[0], _latin(r, False), int(H * 0.04)),
        (subs[1], _latin(r, False), int(H * 0.04)),
        (PRICES[(j + 2) % len(PRICES)], _face_for(PRICES[(j + 2) % len(PRICES)], r, True), int(H * 0.07)),
    ]
    _stack(page, items, 24, x1, int(H * 0.2), r, align="left", gap=0.7)
    tags.append("product")


def _columns(
    page: _Page,
    r: np.random.Generator,
    columns: Sequence[Sequence[str]],
    top: int,
    size: int,
    *,
    cjk: bool,
) -> int:
    """Side-by-side columns whose rows share their heights; returns the y under them."""
    W = page.w
    n = len(columns)
    margin, gutter = 24, 36
    cw = (W - 2 * margin - gutter * (n - 1)) // n
    fk_head = "cjk_bold" if cjk else _latin(r, True)
    fk_body = ("cjk", "wqy")[int(r.integers(2))] if cjk else _latin(r, False)
    # One size for every body line that fits every column.
    body = [t for col in columns for t in col[1:]]
    sz = min(_draw.fit_size(t, _face_or_cjk(t, fk_body), cw, size * 2, size) for t in body)
    hsz = min(
        _draw.fit_size(col[0], _face_or_cjk(col[0], fk_head), cw, size * 3, int(size * 1.3))
        for col in columns
    )
    row_h = max(page.extent(t, _face_or_cjk(t, fk_body), sz)[1] for t in body) + int(sz * 0.7)
    head_h = max(page.extent(col[0], _face_or_cjk(col[0], fk_head), hsz)[1] for col in columns) + int(
        hsz * 0.6
    )
    bottom = top
    for c, col in enumerate(columns):
        x0 = margin + c * (cw + gutter)
        y = top
        for k, text in enumerate(col):
            fk = _face_or_cjk(text, fk_head if k == 0 else fk_body)
            s = hsz if k == 0 else sz
            tw, th = page.extent(text, fk, s)
            page.line(
                text, fk, s, x0, y, _ink(page, (x0, y, tw, th)), block=c + 1, column=float(c), band=float(top)
            )
            y += head_h if k == 0 else row_h
        bottom = max(bottom, y)
    return bottom


def _face_or_cjk(text: str, fk: str) -> str:
    if (_is_cjk(text) or "¥" in text) and fk not in ("cjk", "cjk_bold", "cjk_serif", "cjk_serif_bold", "wqy"):
        return "cjk_bold" if "bold" in fk else "cjk"
    return fk


def _two_column(page: _Page, r: np.random.Generator, j: int, tags: list[str], *, cjk: bool = False) -> None:
    W, H = page.w, page.h
    title = (
        (ZH_HEAD[j % len(ZH_HEAD)] if j % 2 == 0 else MIXED[j % len(MIXED)])
        if cjk
        else EN_HEAD[j % len(EN_HEAD)]
    )
    y = _stack(
        page, [(title, _face_for(title, r, True), int(H * 0.09))], 20, W - 20, int(H * 0.06), r, band=0.0
    )
    rows = 2 + j % 2
    if cjk:
        heads = _pick(r, COLUMN_HEADS_ZH, 2)
        feats = _pick(r, FEATURES_ZH, 2 * rows)
    else:
        heads = _pick(r, COLUMN_HEADS_EN, 2)
        feats = _pick(r, FEATURES_EN, 2 * rows)
    cols = [[heads[0], *feats[:rows]], [heads[1], *feats[rows:]]]
    y = _columns(page, r, cols, y + int(H * 0.04), int(min(W, H) * 0.05), cjk=cjk)
    foot = (ZH_SUB if cjk else EN_CTA)[j % len(ZH_SUB if cjk else EN_CTA)]
    if y + int(H * 0.12) < H:
        _stack(
            page,
            [(foot, _face_for(foot, r, True), int(H * 0.06))],
            20,
            W - 20,
            y + int(H * 0.04),
            r,
            band=float(H),
        )
    tags.append("multi_column")


def _three_column(page: _Page, r: np.random.Generator, j: int, tags: list[str]) -> None:
    W, H = page.w, page.h
    title = ("Choose your plan", "Pick a size", "Compare models", "Find your fit")[j % 4]
    y = _stack(page, [(title, _latin(r, True), int(H * 0.08))], 20, W - 20, int(H * 0.06), r, band=0.0)
    plans = [PLANS[(j + k) % len(PLANS)] for k in range(3)]
    feats = _pick(r, PLAN_FEATURES, 6)
    cols = [
        [name, f"{price} / month", feats[2 * k], feats[2 * k + 1]] for k, (name, price) in enumerate(plans)
    ]
    y = _columns(page, r, cols, y + int(H * 0.05), int(min(W, H) * 0.045), cjk=False)
    foot = ("Cancel anytime", "Prices in USD", "Free trial for 14 days", "No contract")[j % 4]
    if y + int(H * 0.1) < H:
        _stack(
            page, [(foot, _latin(r, False), int(H * 0.045))], 20, W - 20, y + int(H * 0.04), r, band=float(H)
        )
    tags.append("multi_column")


def _rotated(page: _Page, r: np.random.Generator, j: int, tags: list[str]) -> None:
    W, H = page.w, page.h
    texts = [
        EN_HEAD[j % len(EN_HEAD)],
        MIXED[(j + 1) % len(MIXED)],
        PRICES[j % len(PRICES)],
        EN_CTA[j % len(EN_CTA)],
    ]
    y = int(H * 0.06)
    for k, text in enumerate(texts):
        tilted = k in (0, 2) or (k == 3 and j % 2 == 0)
        angle = float(r.uniform(4, 25)) * (1 if r.random() < 0.5 else -1) if tilted else 0.0
        fk = _face_for(text, r, k != 3)
        size = int(H * (0.09 if k == 0 else 0.06))
        for _ in range(8):
            tw, th = page.extent(text, fk, size)
            rad = np.radians(abs(angle))
            bw = int(tw * np.cos(rad) + th * np.sin(rad)) + 4
            bh = int(tw * np.sin(rad) + th * np.cos(rad)) + 4
            if bw < W - 30:
                break
            size = int(size * 0.85)
        x = int(r.uniform(12, max(13, W - bw - 12)))
        if y + bh > H - 4:
            break
        page.line(text, fk, size, x, y, _ink(page, (x, y, bw, bh)), angle=angle)
        y += bh + int(H * 0.03)
    tags.append("rotated")


def _curved(page: _Page, r: np.random.Generator, j: int, tags: list[str]) -> None:
    W, H = page.w, page.h
    arc_text = (
        EN_HEAD[j % len(EN_HEAD)].upper(),
        ZH_HEAD[j % len(ZH_HEAD)],
        "HANDMADE WITH LOVE",
        "BEST OF 2026",
    )[j % 4]
    fk = _face_for(arc_text, r, True)
    size = int(H * 0.075)
    spacing = float(r.uniform(1.0, 1.15))
    sag = float(r.uniform(0.06, 0.14))
    ink = _ink(page, (0, 0, W, H // 3))
    page.arc_line(arc_text, fk, size, W // 2, int(H * 0.06), spacing, sag, ink)
    top = page.lines[-1].box[1] + page.lines[-1].box[3] + int(H * 0.06)
    subs = [EN_SUB[j % len(EN_SUB)], PRICES[(j + 4) % len(PRICES)], FEATURES_EN[j % len(FEATURES_EN)]]
    items = [(t, _face_for(t, r, k == 1), int(H * (0.07 if k == 1 else 0.045))) for k, t in enumerate(subs)]
    _stack(page, items, 20, W - 20, top, r, gap=0.6)
    tags.append("curved")


def _light_on_dark(page: _Page, r: np.random.Generator, j: int, tags: list[str]) -> None:
    W, H = page.w, page.h
    inks = ((255, 255, 255), (60, 220, 255), (230, 230, 200), (200, 255, 200))
    ink = inks[j % len(inks)]
    head = (EN_HEAD, ZH_HEAD)[j % 2][j % 8]
    items = [
        (head, _face_for(head, r, True), int(H * 0.1)),
        (EN_SUB[(j + 5) % len(EN_SUB)], _latin(r, False), int(H * 0.045)),
        (FEATURES_EN[(j + 7) % len(FEATURES_EN)], _latin(r, False), int(H * 0.045)),
        (PRICES[(j + 1) % len(PRICES)], _face_for(PRICES[(j + 1) % len(PRICES)], r, True), int(H * 0.08)),
    ]
    _stack(page, items, 24, W - 24, int(H * 0.16), r, ink=ink, align="left" if j % 2 else "center", gap=0.6)
    tags.append("light_on_dark")


def _mixed(page: _Page, r: np.random.Generator, j: int, tags: list[str]) -> None:
    W, H = page.w, page.h
    texts = _pick(r, MIXED, 3)
    items = [
        (texts[0], _face_for(texts[0], r, True), int(H * 0.085)),
        (texts[1], _face_for(texts[1], r, False), int(H * 0.055)),
        (ZH_SUB[j % len(ZH_SUB)], _face_for(ZH_SUB[j % len(ZH_SUB)], r, False), int(H * 0.05)),
        (texts[2], _face_for(texts[2], r, True), int(H * 0.055)),
    ]
    _stack(page, items, 20, W - 20, int(H * 0.12), r, align=("center", "left")[j % 2], gap=0.7)
    tags += ["cjk", "mixed_script"]


def _price_tags(page: _Page, r: np.random.Generator, j: int, tags: list[str]) -> None:
    W, H = page.w, page.h
    head = EN_HEAD[(j + 6) % len(EN_HEAD)] if j % 2 else ZH_HEAD[(j + 1) % len(ZH_HEAD)]
    y = _stack(page, [(head, _face_for(head, r, True), int(H * 0.1))], 20, W - 20, int(H * 0.05), r)
    # Two products, each with a round price tag beside it.
    slot = W // 2
    bottom_fine = H - int(H * 0.09)
    for k in range(2):
        item = product(KINDS[(j + 4 * k) % len(KINDS)], int((bottom_fine - y) * 0.6), r)
        ph, pw = item.mask.shape
        if pw > slot * 0.5:
            item = product(item.kind, int(ph * slot * 0.45 / pw), r)
            ph, pw = item.mask.shape
        px = k * slot + 12
        py = y + int(H * 0.04)
        paste(page.canvas, item.image, item.mask.astype(np.float32), px, py)
        price = PRICES[(j + 3 * k) % len(PRICES)]
        radius = int(min(slot - pw - 30, H * 0.2) / 2)
        if radius < 24:
            continue
        cx, cy = px + pw + 8 + radius, py + radius + 6
        cv2.circle(page.canvas, (cx, cy), radius, ((30, 30, 210), (20, 160, 240), (40, 40, 40))[k], -1)
        fk = _face_for(price, r, True)
        sz = _draw.fit_size(price, fk, int(radius * 1.6), int(radius * 0.8), int(radius * 0.7))
        tw, th = page.extent(price, fk, sz)
        page.line(
            price, fk, sz, cx - tw // 2, cy - th // 2, (255, 255, 255), column=float(k), band=float(y + 1)
        )
    fine = FINE_PRINT[j % len(FINE_PRINT)]
    fk = _face_for(fine, r, False)
    sz = int(r.integers(12, 15))
    tw, th = page.extent(fine, fk, sz)
    sz = _draw.fit_size(fine, fk, W - 30, th * 2, sz)
    tw, th = page.extent(fine, fk, sz)
    x = (W - tw) // 2
    page.line(fine, fk, sz, x, H - th - 10, _ink(page, (x, H - th - 10, tw, th)))
    tags += ["fine_print", "price_tag"]


def _busy(page: _Page, r: np.random.Generator, j: int, tags: list[str]) -> None:
    W, H = page.w, page.h
    head = (EN_HEAD[(j + 2) % len(EN_HEAD)], MIXED[(j + 5) % len(MIXED)])[j % 2]
    items = [
        (head, _face_for(head, r, True), int(H * 0.1)),
        (EN_SUB[(j + 3) % len(EN_SUB)], _latin(r, True), int(H * 0.05)),
        (EN_CTA[(j + 2) % len(EN_CTA)], _latin(r, True), int(H * 0.05)),
    ]
    outline = j % 2 == 0
    if not outline:
        # A soft shadow under the text block instead of an outline.
        shade = np.zeros((H, W), np.float32)
        cv2.rectangle(shade, (10, int(H * 0.08)), (W - 10, int(H * 0.62)), 1.0, -1)
        shade = np.asarray(cv2.GaussianBlur(shade, (0, 0), 25), dtype=np.float32)
        page.canvas[:] = (page.canvas.astype(np.float32) * (1 - 0.45 * shade[:, :, None])).astype(np.uint8)
    _stack(
        page,
        items,
        20,
        W - 20,
        int(H * 0.12),
        r,
        ink=(255, 255, 255),
        stroke=3 if outline else 0,
        stroke_fill=(0, 0, 0),
        gap=0.6,
    )
    tags += ["busy_background", "outlined" if outline else "shadowed"]


def _poster(page: _Page, r: np.random.Generator, j: int, tags: list[str]) -> None:
    W, H = page.w, page.h
    words = _pick(r, POSTER_WORDS, 2)
    items = [
        (words[0], _face_for(words[0], r, True), int(H * 0.22)),
        (words[1], "serif_bold" if not _is_cjk(words[1]) else "cjk_serif_bold", int(H * 0.16)),
        (EN_SUB[(j + 1) % len(EN_SUB)], _latin(r, False), int(H * 0.045)),
    ]
    _stack(page, items, 16, W - 16, int(H * 0.08), r, gap=0.3)
    tags.append("large_type")


def case(index: int) -> OcrCase:
    """Case `index` (0..COUNT-1); the same pixels and labels every time."""
    if not 0 <= index < COUNT:
        raise IndexError(index)
    layout = LAYOUTS[index // PER_LAYOUT]
    j = index % PER_LAYOUT
    r = rng(SEED, "ocr", index)
    sizes = COLUMN_SIZES if layout in MULTI_COLUMN else SIZES
    W, H = sizes[(index * 3 + j) % len(sizes)]
    grounds = {
        "light_on_dark": ("dark", "dark_photo"),
        "busy_photo": ("photo",),
        "two_column": ("plain", "gradient", "pattern", "light_photo"),
        "three_column": ("plain", "gradient", "light_photo"),
    }.get(layout, ("plain", "gradient", "pattern", "light_photo", "dark"))
    ground = grounds[int(r.integers(len(grounds)))]
    page = _Page(_ground(W, H, r, ground))
    tags = [f"{ground}_ground"]
    if layout == "centered":
        _centered(page, r, j, tags)
    elif layout == "left_block":
        _left_block(page, r, j, tags)
    elif layout == "two_column":
        _two_column(page, r, j, tags)
    elif layout == "three_column":
        _three_column(page, r, j, tags)
    elif layout == "two_column_cjk":
        _two_column(page, r, j, tags, cjk=True)
        tags.append("cjk")
    elif layout == "rotated":
        _rotated(page, r, j, tags)
    elif layout == "curved":
        _curved(page, r, j, tags)
    elif layout == "light_on_dark":
        _light_on_dark(page, r, j, tags)
    elif layout == "mixed_script":
        _mixed(page, r, j, tags)
    elif layout == "price_tags":
        _price_tags(page, r, j, tags)
    elif layout == "busy_photo":
        _busy(page, r, j, tags)
    else:
        _poster(page, r, j, tags)
    if any(_is_cjk(d.text) for d in page.lines) and "cjk" not in tags:
        tags.append("cjk")
    return OcrCase(
        f"ocr{index:03d}",
        np.ascontiguousarray(page.canvas),
        layout,
        page.finish(),
        tuple(dict.fromkeys(tags)),
    )


def build(indices: Iterable[int] | None = None) -> list[OcrCase]:
    """Cases `indices` (all `COUNT` by default), in order."""
    return [case(i) for i in (range(COUNT) if indices is None else indices)]
