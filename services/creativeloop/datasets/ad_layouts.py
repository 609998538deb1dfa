"""Rendered ad layouts with every line's text, quad and reading order: the OCR layout tuning set.

`creativeloop.datasets.ad_text` renders 1-3 stacked lines of copy; real ads also put text side by
side. This set renders whole layouts, deterministically for a seed, and records each line's
text, its quad (the drawn glyphs' box, rotated with the line) and its place in reading order
(columns are read one after another):

- ``stack``: a headline, sublines and a call to action, centred or left-aligned;
- ``row``: stacked copy plus a row of two or three items side by side (old and new price, CTA);
- ``columns``: a headline over two or three columns of feature lines (a plan comparison, a
  bilingual ad, a spec sheet), each column under its own heading, and a footer;
- ``banner``: a wide banner with a text block on the left and another on the right;
- ``badge``: stacked copy with a rotated sticker (a price or a discount on a disc).

Backdrops, fonts and colours come from `creativeloop.datasets.ad_text`, so the same fonts and
backdrops are covered. `creativeloop eval ocr` scores detection (line quads, IoU >= 0.5), reading
order and character accuracy on it next to the copy set.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw

from creativeloop.datasets.ad_text import (
    EN_COPY,
    ZH_COPY,
    ResolvedFont,
    backdrop,
    load_font,
    pick_colour,
)
from creativeloop.datasets.garments import PALETTE, render_garment

LAYOUTS = ("stack", "row", "columns", "banner", "badge")
BACKGROUNDS = ("solid", "gradient", "noise", "photo")

FEATURES_EN: tuple[str, ...] = (
    "Free returns",
    "2-year warranty",
    "Machine washable",
    "Organic cotton",
    "Fits true to size",
    "Ships in 24h",
    "Water resistant",
    "Recycled fabric",
    "Soft brushed fleece",
    "Wrinkle free",
    "UV protection",
    "Stretch denim",
    "Hidden pockets",
    "Gift wrapping",
    "Lifetime support",
    "Unlimited storage",
    "3 devices",
    "No ads",
)
FEATURES_ZH: tuple[str, ...] = (
    "七天无理由退换",
    "两年质保",
    "可机洗",
    "有机棉面料",
    "尺码标准",
    "当天发货",
    "防泼水",
    "环保面料",
    "加绒保暖",
    "免烫抗皱",
    "防晒指数50+",
    "高弹牛仔",
    "隐形口袋",
    "免费礼盒包装",
    "终身售后",
    "顺丰包邮",
)
HEADS_EN = ("Basic", "Plus", "Pro", "Cotton", "Linen", "Wool", "Men", "Women", "Kids", "Before", "After")
HEADS_ZH = ("基础版", "标准版", "专业版", "男款", "女款", "童装", "春夏", "秋冬")
PRICES = ("$9.99", "$19.99", "$29", "$49.90", "¥59", "¥199", "¥1299", "€24.50")
CTAS_EN = ("Shop Now", "Order Today", "Learn More", "Get Yours", "Buy Now")
CTAS_ZH = ("立即抢购", "马上下单", "点击购买", "立即领取")
FINE_EN = (
    "*Offer valid while stocks last.",
    "Terms apply. See store for details.",
    "*Prices include VAT, free delivery over $50",
    "Limited to 2 per customer",
)
FINE_ZH = ("*活动时间以页面为准", "图片仅供参考，以实物为准", "每人限购2件", "*满减不与其他优惠同享")
CANVASES = ((800, 800), (900, 600), (750, 1000), (1000, 560))


@dataclass(frozen=True)
class TruthLine:
    """One drawn line: text, quad (4 points, clockwise from top-left) and reading-order rank."""

    text: str
    quad: tuple[tuple[float, float], ...]
    order: int


@dataclass(frozen=True)
class LayoutSample:
    """One rendered layout: its kind, backdrop, multi-column flag, lines in reading order, PNG."""

    index: int
    layout: str
    background: str
    multi_column: bool
    lines: tuple[TruthLine, ...]
    png: bytes

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in sorted(self.lines, key=lambda line: line.order))


class _Canvas:
    """A PIL canvas that records each line it draws."""

    def __init__(
        self, pixels: np.ndarray, rng: np.random.Generator, fonts: Sequence[ResolvedFont], light: bool
    ):
        self.image = Image.fromarray(cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB))
        self.draw = ImageDraw.Draw(self.image)
        self.rng = rng
        self.fonts = list(fonts)
        self.light = light
        self.lines: list[TruthLine] = []
        self.width, self.height = self.image.size

    def font_for(self, text: str, cjk: bool | None = None) -> ResolvedFont:
        cjk = any(ord(ch) > 0x2E80 for ch in text) if cjk is None else cjk
        choices = [f for f in self.fonts if f.spec.cjk or not cjk] or self.fonts
        return choices[int(self.rng.integers(0, len(choices)))]

    def size_of(self, text: str, font: ResolvedFont, px: int) -> tuple[float, float]:
        left, top, right, bottom = self.draw.textbbox((0, 0), text, font=load_font(font, px))
        return right - left, bottom - top

    def fit(self, text: str, font: ResolvedFont, px: int, width: float) -> int:
        px = max(16, px)
        while px > 16 and self.size_of(text, font, px)[0] > width:
            px = int(px * 0.92)
        return px

    def text(
        self, text: str, x: float, y: float, px: int, font: ResolvedFont | None = None
    ) -> tuple[float, float]:
        """Draw ``text`` with its glyph box's top-left at (x, y); returns the glyph box size."""
        font = font or self.font_for(text)
        face = load_font(font, px)
        left, top, right, bottom = self.draw.textbbox((0, 0), text, font=face)
        colour = pick_colour(self.rng, not self.light)
        self.draw.text((x - left, y - top), text, font=face, fill=(colour[2], colour[1], colour[0]))
        w, h = right - left, bottom - top
        quad = ((x, y), (x + w, y), (x + w, y + h), (x, y + h))
        self.lines.append(TruthLine(text, tuple((float(a), float(b)) for a, b in quad), len(self.lines)))
        return w, h

    def sticker(
        self,
        text: str,
        cx: float,
        cy: float,
        px: int,
        angle: float,
        disc: bool = True,
        font: ResolvedFont | None = None,
    ) -> None:
        """``text`` centred at (cx, cy) on a disc (or on nothing), rotated by ``angle`` degrees
        counter-clockwise; the quad rotates with it."""
        font = font or self.font_for(text)
        face = load_font(font, px)
        left, top, right, bottom = self.draw.textbbox((0, 0), text, font=face)
        w, h = right - left, bottom - top
        side = int(max(w, h) * 1.5) + 16
        layer = Image.new("RGBA", (side, side), (0, 0, 0, 0))
        ink = ImageDraw.Draw(layer)
        if disc:
            fill = tuple(int(v) for v in self.rng.integers(0, 256, 3))
            light_disc = 0.299 * fill[0] + 0.587 * fill[1] + 0.114 * fill[2] > 128
            ink.ellipse((0, 0, side - 1, side - 1), fill=(*fill, 255))
            colour = (20, 20, 20) if light_disc else (250, 250, 250)
        else:
            colour = self.ink()
        ink.text(((side - w) / 2 - left, (side - h) / 2 - top), text, font=face, fill=(*colour, 255))
        rotated = layer.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
        ox, oy = round(cx - rotated.size[0] / 2), round(cy - rotated.size[1] / 2)
        self.image.paste(rotated, (ox, oy), rotated)
        theta = math.radians(-angle)  # PIL rotates counter-clockwise in image coordinates
        corners = ((-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2))
        centre_x, centre_y = ox + rotated.size[0] / 2, oy + rotated.size[1] / 2
        quad = tuple(
            (
                float(centre_x + a * math.cos(theta) - b * math.sin(theta)),
                float(centre_y + a * math.sin(theta) + b * math.cos(theta)),
            )
            for a, b in corners
        )
        self.lines.append(TruthLine(text, quad, len(self.lines)))

    def ink(self) -> tuple[int, int, int]:
        colour = pick_colour(self.rng, not self.light)
        return (colour[2], colour[1], colour[0])

    def rule(self, x0: float, y0: float, x1: float, y1: float) -> None:
        """A divider line (not text)."""
        self.draw.line((x0, y0, x1, y1), fill=self.ink(), width=int(self.rng.integers(1, 4)))

    def bullet(self, x: float, y: float, size: float) -> None:
        """A bullet, tick box or star before a feature line (not text)."""
        shape = int(self.rng.integers(0, 3))
        box = (x, y, x + size, y + size)
        if shape == 0:
            self.draw.ellipse(box, fill=self.ink())
        elif shape == 1:
            self.draw.rectangle(box, outline=self.ink(), width=2)
            self.draw.line(
                (x + size * 0.2, y + size * 0.55, x + size * 0.45, y + size * 0.8), fill=self.ink(), width=2
            )
            self.draw.line(
                (x + size * 0.45, y + size * 0.8, x + size * 0.85, y + size * 0.2), fill=self.ink(), width=2
            )
        else:
            cx, cy, r = x + size / 2, y + size / 2, size / 2
            points = [
                (
                    cx + (r if k % 2 == 0 else r * 0.45) * math.sin(k * math.pi / 5),
                    cy - (r if k % 2 == 0 else r * 0.45) * math.cos(k * math.pi / 5),
                )
                for k in range(10)
            ]
            self.draw.polygon(points, fill=self.ink())

    def button(self, text: str, x: float, y: float, px: int, font: ResolvedFont) -> None:
        """A call to action on a filled rounded button; the text keeps the button's contrast."""
        w, h = self.size_of(text, font, px)
        pad_x, pad_y = px * 0.8, px * 0.45
        fill = tuple(int(v) for v in self.rng.integers(0, 256, 3))
        dark = 0.299 * fill[0] + 0.587 * fill[1] + 0.114 * fill[2] < 128
        self.draw.rounded_rectangle(
            (x - pad_x, y - pad_y, x + w + pad_x, y + h + pad_y), radius=int(pad_y * 1.5), fill=fill
        )
        face = load_font(font, px)
        left, top, _r, _b = self.draw.textbbox((0, 0), text, font=face)
        self.draw.text((x - left, y - top), text, font=face, fill=(250, 250, 250) if dark else (15, 15, 15))
        quad = ((x, y), (x + w, y), (x + w, y + h), (x, y + h))
        self.lines.append(TruthLine(text, tuple((float(a), float(b)) for a, b in quad), len(self.lines)))

    def product(self, box: tuple[float, float, float, float]) -> None:
        """A drawn garment pasted into ``box`` (x0, y0, x1, y1): a picture, not text."""
        silhouette = ("tee", "dress", "jeans", "coat", "skirt", "sweater")[int(self.rng.integers(0, 6))]
        colour = sorted(PALETTE)[int(self.rng.integers(0, len(PALETTE)))]
        png = render_garment(silhouette, colour, seed=int(self.rng.integers(0, 1000)))
        garment = Image.open(io.BytesIO(png)).convert("RGB")
        side = int(min(box[2] - box[0], box[3] - box[1]))
        if side < 32:
            return
        garment = garment.resize((side, side))
        grey = np.asarray(garment.convert("L"), dtype=np.float32)
        corner = float(np.median(np.concatenate([grey[:4].ravel(), grey[-4:].ravel()])))
        mask = Image.fromarray((np.abs(grey - corner) > 12).astype(np.uint8) * 255)
        self.image.paste(garment, (int(box[0]), int(box[1])), mask)

    def png(self) -> bytes:
        buffer = io.BytesIO()
        self.image.save(buffer, "PNG")
        return buffer.getvalue()


def _pick(rng: np.random.Generator, pool: Sequence[str], count: int) -> list[str]:
    return [pool[int(i)] for i in rng.choice(len(pool), size=min(count, len(pool)), replace=False)]


def _stack(c: _Canvas, zh: bool, x0: float, y: float, width: float, centred: bool, count: int) -> float:
    """Headline + sublines + CTA stacked from ``y``; returns the y below them."""
    rng = c.rng
    copy = _pick(rng, ZH_COPY if zh else EN_COPY, count)
    for k, text in enumerate(copy):
        px = round(c.height * (rng.uniform(0.07, 0.1) if k == 0 else rng.uniform(0.035, 0.055)))
        font = c.font_for(text)
        px = c.fit(text, font, px, width * (0.85 if k == 0 else 1.0))
        w, h = c.size_of(text, font, px)
        x = x0 + (width - w) / 2 if centred else x0
        if k == 0 and rng.random() < 0.25:  # a tilted headline
            angle = float(rng.choice([-1, 1]) * rng.uniform(4, 18))
            c.sticker(
                text,
                x + w / 2,
                y + h / 2 + w / 2 * math.sin(math.radians(abs(angle))),
                px,
                angle,
                False,
                font,
            )
            y += h + w * math.sin(math.radians(abs(angle))) + px * 0.6
            continue
        c.text(text, x, y, px, font)
        y += h + px * rng.uniform(0.6, 1.0)
    return y


def _fine_print(c: _Canvas, zh: bool, margin: float) -> None:
    """A line of small print at the bottom (terms), 12-15 px."""
    text = (
        FINE_ZH[int(c.rng.integers(0, len(FINE_ZH)))] if zh else FINE_EN[int(c.rng.integers(0, len(FINE_EN)))]
    )
    font = c.font_for(text)
    px = int(c.rng.integers(12, 16))
    _w, h = c.size_of(text, font, px)
    c.text(text, margin, c.height - margin * 0.6 - h, px, font)


def _columns(c: _Canvas, zh: bool, y: float, margin: float, columns: int) -> float:
    rng = c.rng
    gutter = c.width * rng.uniform(0.06, 0.12)
    col_w = (c.width - 2 * margin - (columns - 1) * gutter) / columns
    rows = int(rng.integers(3, 6))
    bilingual = columns == 2 and rng.random() < 0.3
    px_head = round(c.height * rng.uniform(0.04, 0.055))
    px_line = round(c.height * rng.uniform(0.028, 0.04))
    bottom = y
    heads = _pick(rng, HEADS_ZH if zh else HEADS_EN, columns)
    for k in range(columns):
        col_zh = (k == 0) if bilingual else zh
        x = margin + k * (col_w + gutter)
        yy = y
        head = heads[k] if not bilingual else (HEADS_ZH if col_zh else HEADS_EN)[int(rng.integers(0, 3))]
        font = c.font_for(head, cjk=col_zh)  # one font per column, as a designer would set it
        _w, h = c.text(head, x, yy, c.fit(head, font, px_head, col_w), font)
        yy += h + px_head * 0.8
        if rng.random() < 0.5:
            price = PRICES[int(rng.integers(0, len(PRICES)))]
            _w, h = c.text(price, x, yy, c.fit(price, font, px_head, col_w), font)
            yy += h + px_head * 0.7
        texts = _pick(rng, FEATURES_ZH if col_zh else FEATURES_EN, rows)
        bullets = rng.random() < 0.5
        indent = px_line * 1.4 if bullets else 0.0
        size = min(c.fit(text, font, px_line, col_w - indent) for text in texts)
        for text in texts:
            if bullets:
                c.bullet(x, yy + size * 0.1, size * 0.7)
            _w, h = c.text(text, x + indent, yy, size, font)
            yy += h + px_line * rng.uniform(0.55, 0.9)
        bottom = max(bottom, yy)
        if k and rng.random() < 0.4:  # a column rule in the gutter
            c.rule(x - gutter / 2, y, x - gutter / 2, yy)
    return bottom


def render_layout(
    index: int,
    rng: np.random.Generator,
    layout: str,
    background: str,
    fonts: Sequence[ResolvedFont],
    size: tuple[int, int] | None = None,
    canvas: tuple[np.ndarray, bool] | None = None,
) -> LayoutSample:
    """One layout of kind ``layout`` on a ``background`` backdrop (``size``: the canvas, else
    drawn from `CANVASES`; ``canvas``: a picture to draw on instead of a backdrop, with whether it
    is light)."""
    width, height = CANVASES[int(rng.integers(0, len(CANVASES)))]
    if layout == "banner":
        width, height = (1000, 360) if rng.random() < 0.5 else (900, 420)
    if size is not None:
        width, height = size
    light = bool(rng.random() < 0.55)
    if canvas is not None:
        pixels, light, source = canvas[0], canvas[1], "given"
        height, width = pixels.shape[:2]
    else:
        pixels, source = backdrop(rng, background, light, width, height)
    c = _Canvas(pixels, rng, fonts, light)
    zh = bool(rng.random() < 0.5) and any(f.spec.cjk for f in fonts)
    margin = width * rng.uniform(0.05, 0.09)
    y = height * rng.uniform(0.05, 0.1)
    multi = False
    if layout == "stack":
        with_product = rng.random() < 0.5
        text_width = (width - 2 * margin) * (0.6 if with_product else 1.0)
        bottom = _stack(c, zh, margin, y, text_width, bool(rng.random() < 0.5), int(rng.integers(2, 5)))
        if with_product:
            c.product((margin + text_width + margin, y, width - margin, max(bottom, height * 0.6)))
    elif layout == "row":
        y = _stack(c, zh, margin, y, width - 2 * margin, bool(rng.random() < 0.5), int(rng.integers(1, 3)))
        y += height * 0.05
        items = [
            PRICES[int(rng.integers(0, len(PRICES)))],
            (CTAS_ZH if zh else CTAS_EN)[int(rng.integers(0, 4))],
        ]
        if rng.random() < 0.4:
            items.insert(0, PRICES[int(rng.integers(0, len(PRICES)))])
        px = round(height * rng.uniform(0.04, 0.06))
        slot = (width - 2 * margin) / len(items)
        for k, text in enumerate(items):
            font = c.font_for(text)
            item_px = c.fit(text, font, px, slot * 0.7)
            if k == len(items) - 1 and rng.random() < 0.5:
                c.button(text, margin + k * slot + item_px * 0.8, y, item_px, font)
            else:
                c.text(text, margin + k * slot, y, item_px, font)
    elif layout == "columns":
        multi = True
        head = (ZH_COPY if zh else EN_COPY)[int(rng.integers(0, len(ZH_COPY if zh else EN_COPY)))]
        font = c.font_for(head)
        px = c.fit(head, font, round(height * rng.uniform(0.06, 0.08)), width - 2 * margin)
        w, h = c.size_of(head, font, px)
        c.text(head, (width - w) / 2, y, px, font)
        if rng.random() < 0.5:
            c.rule(margin, y + h + px * 0.45, width - margin, y + h + px * 0.45)
        y = _columns(c, zh, y + h + px * 0.9, margin, 2 if rng.random() < 0.6 else 3)
        if y < height * 0.82 and rng.random() < 0.7:
            cta = (CTAS_ZH if zh else CTAS_EN)[int(rng.integers(0, 4))]
            font = c.font_for(cta)
            px = round(height * 0.045)
            w, h = c.size_of(cta, font, px)
            top = min(y + px * 1.3, height - h - px)
            if rng.random() < 0.5:
                c.button(cta, (width - w) / 2, top, px, font)
            else:
                c.text(cta, (width - w) / 2, top, px, font)
    elif layout == "banner":
        multi = True
        half = (width - 3 * margin) / 2
        _stack(c, zh, margin, y, half, False, int(rng.integers(2, 4)))
        _stack(
            c,
            not zh if any(f.spec.cjk for f in fonts) else zh,
            2 * margin + half,
            y,
            half,
            False,
            int(rng.integers(2, 4)),
        )
    else:  # badge
        bottom = _stack(c, zh, margin, y, (width - 2 * margin) * 0.65, False, int(rng.integers(2, 4)))
        if rng.random() < 0.6:
            c.product((margin, bottom + margin * 0.5, width * 0.62, height - margin))
        text = ("-30%", "-50%", "SALE", "NEW", "HOT", "新品", "特价", "¥99")[int(rng.integers(0, 8))]
        c.sticker(
            text,
            width * 0.8,
            height * rng.uniform(0.6, 0.78),
            round(height * 0.05),
            float(rng.uniform(-25, 25)),
        )
    if layout in ("stack", "columns", "row") and rng.random() < 0.35:
        _fine_print(c, zh, margin)
    return LayoutSample(index, layout, source, multi, tuple(c.lines), c.png())


def build_layouts(count: int, seed: int, fonts: Sequence[ResolvedFont]) -> list[LayoutSample]:
    """``count`` layouts; kinds and backdrops cycle so each is covered."""
    rng = np.random.default_rng([seed, 1])
    return [
        render_layout(
            i, rng, LAYOUTS[i % len(LAYOUTS)], BACKGROUNDS[(i // len(LAYOUTS)) % len(BACKGROUNDS)], fonts
        )
        for i in range(count)
    ]
