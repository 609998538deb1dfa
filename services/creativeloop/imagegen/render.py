"""Compose an image creative from a template: background, product, text, price tag, badge, logo.

Everything is drawn into one BGR numpy canvas (OpenCV's layout, so encoding needs no
conversion). Steps: plan the layout from the product's real box (`layout.plan_layout`), take the
background from a cache (per template and size, plus the product for product-dependent kinds),
paste the scaled cut-out (cached per product and size), then draw each text element after
choosing its ink from the pixels under it (WCAG contrast >= the template's minimum, else a
scrim). Pillow draws text onto copies of just the rectangles it occupies. Fonts (per size, per
thread), text fits, templates, backgrounds and scaled cut-outs are cached.

>>> import numpy as np
>>> renderer = Renderer(FontBook.default())
>>> product = ProductImage(np.full((300, 200, 3), (40, 30, 200), np.uint8))
>>> rendered = renderer.render("hero-bottom", product, "Flowy Linen Summer Dress", "$59.99", size="4:3")
>>> rendered.width, rendered.height, rendered.mime_type
(800, 600, 'image/png')
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from creativeloop.imagegen import background as bg
from creativeloop.imagegen.colour import (
    RGB,
    accent,
    backdrop_range,
    contrast_ratio,
    hex_rgb,
    pick_ink,
    relative_luminance,
    rgb_hex,
    scrim_for,
    worst_contrast,
)
from creativeloop.imagegen.cutout import Cutout, ProductImage, RenderRejected, decode_image, make_cutout
from creativeloop.imagegen.generator import BackgroundGenerator, ProceduralGenerator, condition_vector
from creativeloop.imagegen.layout import Plan, Rect, place_in_corner, plan_layout
from creativeloop.imagegen.templates import (
    REFERENCE_SIDE,
    SIZES,
    PriceStyle,
    Template,
    TextStyle,
    catalogue_dir,
    load_catalogue,
)
from creativeloop.imagegen.text import ellipsize, has_cjk, wrap

__all__ = [
    "Composition",
    "Cutout",
    "Element",
    "Encoding",
    "FontBook",
    "ProductImage",
    "RenderRejected",
    "Rendered",
    "Renderer",
    "decode_image",
    "make_cutout",
]

Encoding = Literal["png", "jpeg", "webp"]
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
Array = npt.NDArray[Any]
V = TypeVar("V")

MIME_TYPES: dict[Encoding, str] = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
_EXTENSIONS: dict[Encoding, str] = {"png": ".png", "jpeg": ".jpg", "webp": ".webp"}
_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
_CJK_FONTS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"),
)


class FontBook:
    """Fonts by role and pixel size, loaded once per thread (FreeType faces are not thread-safe).

    A missing font file falls back: bold -> regular, CJK -> bold -> regular, regular -> Pillow's
    built-in font (`ImageFont.load_default`), so rendering never fails for want of a font.
    """

    def __init__(self, regular: Path, bold: Path | None = None, cjk: Path | None = None) -> None:
        regular_path = regular if regular.is_file() else None
        bold_path = bold if bold is not None and bold.is_file() else regular_path
        self._paths: dict[str, Path | None] = {
            "regular": regular_path,
            "bold": bold_path,
            "cjk": cjk if cjk is not None and cjk.is_file() else bold_path,
        }
        self.missing = [str(path) for path in (regular, bold, cjk) if path is not None and not path.is_file()]
        self._local = threading.local()

    @classmethod
    def default(cls) -> FontBook:
        """DejaVu for Latin, the first installed CJK font (WenQuanYi Micro Hei, Noto CJK)."""
        cjk = next((path for path in _CJK_FONTS if path.is_file()), None)
        return cls(_DEJAVU / "DejaVuSans.ttf", _DEJAVU / "DejaVuSans-Bold.ttf", cjk)

    dejavu = default

    def get(self, size: int, *, bold: bool = False, cjk: bool = False) -> Font:
        """The font of `role` at `size`, from a per-thread cache of at most `FONT_CACHE_SIZE`
        fonts (requests choose canvas sizes, so sizes are unbounded: the least recent go)."""
        cache: LruCache | None = getattr(self._local, "fonts", None)
        if cache is None:
            cache = self._local.fonts = LruCache(FONT_CACHE_SIZE)
        role = "cjk" if cjk else "bold" if bold else "regular"

        def load() -> Font:
            path = self._paths[role]
            if path is None:
                return ImageFont.load_default(size=size)
            return ImageFont.truetype(str(path), size, layout_engine=ImageFont.Layout.BASIC)

        return cache.get((role, size), load)

    def cached(self) -> int:
        """Fonts cached by the calling thread."""
        cache: LruCache | None = getattr(self._local, "fonts", None)
        return 0 if cache is None else len(cache)


#: Most fonts (role x size) each rendering thread keeps loaded.
FONT_CACHE_SIZE = 64


class LruCache:
    """A small thread-safe LRU: renders share backgrounds, cut-outs and text fits."""

    def __init__(self, capacity: int) -> None:
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Hashable, make: Callable[[], V]) -> V:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                value: V = self._items[key]
                return value
            self.misses += 1
        value = make()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
        return value


def _metrics(font: Font, size: int) -> tuple[int, int]:
    if isinstance(font, ImageFont.FreeTypeFont):
        return font.getmetrics()
    return size, 0


def _resize(pixels: Array, size: tuple[int, int]) -> Array:
    """Resize to (width, height): area reduction by an integer factor first when shrinking 2x+
    (as good as INTER_AREA for that factor and much faster), then bilinear."""
    factor = min(pixels.shape[1] // size[0], pixels.shape[0] // size[1])
    if factor >= 2:
        height, width = pixels.shape[0] // factor * factor, pixels.shape[1] // factor * factor
        pixels = cv2.resize(
            pixels[:height, :width], (width // factor, height // factor), interpolation=cv2.INTER_AREA
        )
    if (pixels.shape[1], pixels.shape[0]) == size:
        return pixels
    return cv2.resize(pixels, size, interpolation=cv2.INTER_LINEAR)


class _Layer:
    """Pillow drawing straight onto a rectangle of the canvas (copied out, drawn, copied back)."""

    def __init__(self, canvas: Array, rect: Rect) -> None:
        self.region = canvas[rect.y : rect.y1, rect.x : rect.x1]
        self.image = Image.fromarray(self.region)
        self.draw = ImageDraw.Draw(self.image)

    def __enter__(self) -> ImageDraw.ImageDraw:
        return self.draw

    def __exit__(self, *exc: object) -> None:
        self.region[...] = np.asarray(self.image)


def _rounded_mask(w: int, h: int, radius: int) -> Array:
    mask = np.zeros((h, w), np.uint8)
    r = max(0, min(radius, w // 2, h // 2))
    cv2.rectangle(mask, (r, 0), (w - 1 - r, h - 1), 255, -1)
    cv2.rectangle(mask, (0, r), (w - 1, h - 1 - r), 255, -1)
    for cx, cy in ((r, r), (w - 1 - r, r), (r, h - 1 - r), (w - 1 - r, h - 1 - r)):
        cv2.circle(mask, (cx, cy), r, 255, -1, cv2.LINE_AA)
    return mask


def _fill(canvas: Array, rect: Rect, rgb: RGB, radius: int = 0, opacity: float = 1.0) -> None:
    """A (rounded, translucent) rectangle straight into the BGR canvas."""
    rect = rect.clip(canvas.shape[1], canvas.shape[0])
    if rect.area == 0:
        return
    region = canvas[rect.y : rect.y1, rect.x : rect.x1]
    colour = np.asarray(rgb[::-1], np.float32)
    r = max(0, min(radius, rect.w // 2, rect.h // 2))
    if opacity >= 1.0:  # opaque: draw the straight parts directly, blend only the corners
        bgr_colour = tuple(int(c) for c in rgb[::-1])
        cv2.rectangle(canvas, (rect.x + r, rect.y), (rect.x1 - 1 - r, rect.y1 - 1), bgr_colour, -1)
        cv2.rectangle(canvas, (rect.x, rect.y + r), (rect.x1 - 1, rect.y1 - 1 - r), bgr_colour, -1)
        if r == 0:
            return
        round_mask = _rounded_mask(2 * r + 1, 2 * r + 1, r).astype(np.float32)[:, :, None] / 255.0
        for ys, xs, ms, mx in (
            (slice(0, r), slice(0, r), slice(0, r), slice(0, r)),
            (slice(0, r), slice(rect.w - r, rect.w), slice(0, r), slice(r + 1, None)),
            (slice(rect.h - r, rect.h), slice(0, r), slice(r + 1, None), slice(0, r)),
            (slice(rect.h - r, rect.h), slice(rect.w - r, rect.w), slice(r + 1, None), slice(r + 1, None)),
        ):
            corner = region[ys, xs]
            weight = round_mask[ms, mx]
            corner[...] = np.rint(corner * (1 - weight) + colour * weight).astype(np.uint8)
        return
    weight = _rounded_mask(rect.w, rect.h, r).astype(np.float32)[:, :, None] * (opacity / 255.0)
    region[...] = np.rint(region * (1 - weight) + colour * weight).astype(np.uint8)


@dataclass(frozen=True)
class Element:
    """One drawn element: what, where (tight box), its ink and the contrast it reached."""

    kind: str
    rect: Rect
    ink: RGB | None = None
    contrast: float = 0.0
    scrim: str = "none"
    text: str = ""


@dataclass(frozen=True)
class Composition:
    """A composed canvas and what the layout decided."""

    canvas: Array
    template: Template
    plan: Plan
    elements: tuple[Element, ...]
    attributes: dict[str, str]
    #: The canvas just before text was drawn (kept on request, for quality checks).
    backdrop: Array | None = None

    @property
    def width(self) -> int:
        return int(self.canvas.shape[1])

    @property
    def height(self) -> int:
        return int(self.canvas.shape[0])


@dataclass(frozen=True)
class Rendered:
    content: bytes
    mime_type: str
    width: int
    height: int
    template_id: str
    size: str
    attributes: dict[str, str]


@dataclass(frozen=True)
class Copy:
    """The words on a creative: headline, optional subline, price text and badge text."""

    headline: str
    price: str = ""
    subline: str = ""
    badge: str | None = None  # None: the template's own badge text; "" hides the badge


@dataclass
class _TextBlock:
    kind: str
    lines: list[str]
    font: Font
    size: int
    step: int
    height: int
    style: TextStyle | PriceStyle
    tag: tuple[int, int] = (0, 0)  # price tag width, height
    offsets: list[int] = field(default_factory=list)


def aspect_label(width: int, height: int) -> str:
    for name, (w, h) in SIZES.items():
        if abs(width / height - w / h) < 0.01:
            return name
    return f"{width / height:.2f}:1"


class Renderer:
    """Renders creatives from the template catalogue; safe to call from several threads."""

    def __init__(
        self,
        fonts: FontBook,
        templates: Mapping[str, Template] | None = None,
        *,
        generator: BackgroundGenerator | None = None,
        min_side: int = 64,
        max_side: int = 4096,
        jpeg_quality: int = 90,
        webp_quality: int = 90,
        png_compression: int = 1,
        cache_size: int = 256,
    ) -> None:
        self.fonts = fonts
        self.templates = templates if templates is not None else load_catalogue()
        self.generator: BackgroundGenerator = generator or ProceduralGenerator()
        self.min_side = min_side
        self.max_side = max_side
        self._params: dict[Encoding, list[int]] = {
            # One fixed row filter: adaptive filtering triples the encoding time for ~1 % size.
            "png": [
                cv2.IMWRITE_PNG_COMPRESSION,
                png_compression,
                cv2.IMWRITE_PNG_FILTER,
                cv2.IMWRITE_PNG_FILTER_UP,
            ],
            "jpeg": [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality],
            "webp": [cv2.IMWRITE_WEBP_QUALITY, webp_quality],
        }
        self.backgrounds = LruCache(cache_size)
        self.cutouts = LruCache(cache_size)
        self.fits = LruCache(cache_size * 8)
        self._logos = LruCache(32)

    # ----------------------------------------------------------------- requests

    def template(self, template_id: str) -> Template:
        try:
            return self.templates[template_id]
        except KeyError:
            known = ", ".join(sorted(self.templates))
            raise RenderRejected(f"unknown template {template_id!r} (known: {known})") from None

    def canvas_size(
        self, template: Template, width: int = 0, height: int = 0, size: str = ""
    ) -> tuple[int, int, str]:
        """(width, height, size label): a named slot the template offers, an explicit size (0 keeps
        the aspect of the template's first slot), or the template's first slot."""
        if size:
            if size not in SIZES:
                raise RenderRejected(f"unknown size {size!r} (known: {', '.join(SIZES)})")
            if size not in template.sizes:
                raise RenderRejected(
                    f"template {template.id!r} does not offer size {size!r} "
                    f"(it offers {', '.join(template.sizes)})"
                )
            if width or height:
                raise RenderRejected("give a size name or width/height, not both")
            return (*SIZES[size], size)
        if width < 0 or height < 0:
            raise RenderRejected(f"negative canvas size {width}x{height}")
        base_w, base_h = SIZES[template.sizes[0]]
        if not width and not height:
            width, height = base_w, base_h
        elif not height:
            height = round(width * base_h / base_w)
        elif not width:
            width = round(height * base_w / base_h)
        if not (self.min_side <= width <= self.max_side and self.min_side <= height <= self.max_side):
            raise RenderRejected(
                f"canvas {width}x{height} outside {self.min_side}..{self.max_side} pixels per side"
            )
        label = next((name for name, dims in SIZES.items() if dims == (width, height)), "custom")
        return width, height, label

    def render(
        self,
        template_id: str,
        product: ProductImage | Cutout,
        headline: str,
        price: str = "",
        *,
        size: str = "",
        width: int = 0,
        height: int = 0,
        encoding: Encoding = "png",
        subline: str = "",
        badge: str | None = None,
    ) -> Rendered:
        """Compose and encode one creative; RenderRejected for an unknown template or bad size."""
        template = self.template(template_id)
        width, height, label = self.canvas_size(template, width, height, size)
        cutout = product if isinstance(product, Cutout) else make_cutout(product)
        composed = self.compose(template, cutout, Copy(headline, price, subline, badge), width, height, label)
        return Rendered(
            content=self.encode(composed.canvas, encoding),
            mime_type=MIME_TYPES[encoding],
            width=composed.width,
            height=composed.height,
            template_id=template.id,
            size=label,
            attributes={**composed.attributes, "encoding": encoding},
        )

    def encode(self, canvas: Array, encoding: Encoding) -> bytes:
        ok, buffer = cv2.imencode(_EXTENSIONS[encoding], canvas, self._params[encoding])
        if not ok:
            raise RuntimeError(f"OpenCV could not encode {encoding}")
        return bytes(buffer.tobytes())

    # ----------------------------------------------------------------- composing

    def compose(
        self,
        template: Template,
        cutout: Cutout,
        copy: Copy,
        width: int,
        height: int,
        size_label: str = "custom",
        *,
        keep_backdrop: bool = False,
        glyphs: bool = True,
    ) -> Composition:
        """Lay out and draw one creative. `glyphs=False` draws everything but the letters (scrims,
        tags and badges included): the backdrop every text element really sits on, for checks."""
        scale = min(width, height) / REFERENCE_SIDE
        plan = self._plan(template, cutout, width, height, copy, scale)
        accent_rgb = accent(cutout.dominant)
        canvas, main_colour = self._background(template, cutout, plan)
        canvas = canvas.copy()
        product = template.product
        if product.backing is not None:
            pad = round(product.backing.padding * scale)
            _fill(
                canvas,
                plan.placed.inflate(pad),
                hex_rgb(product.backing.color),
                round(product.backing.radius * scale),
            )
        self._paste(canvas, cutout, plan.placed)
        backdrop = canvas.copy() if keep_backdrop else None
        texts_drawn = self._draw_text(canvas, template, copy, plan, scale, accent_rgb, glyphs)
        occupied = [plan.blocked, *(e.rect for e in texts_drawn)]
        extras = self._badge_and_logo(canvas, template, copy, plan, scale, accent_rgb, occupied, glyphs)
        elements = (*texts_drawn, *extras)
        headline = next((e for e in elements if e.kind == "headline"), None)
        texts = [e for e in elements if e.ink is not None]
        attributes = {
            "template": template.id,
            "layout": template.layout,
            "size": size_label,
            "aspect": aspect_label(width, height),
            "background_kind": template.background.kind,
            "background": rgb_hex(main_colour),
            "accent": rgb_hex(accent_rgb),
            "text_color": rgb_hex(headline.ink) if headline is not None and headline.ink else "",
            "scrim": headline.scrim if headline is not None else "none",
            "layout_region": plan.region_name,
            "product_placement": cutout.kind,
            "badge": next((e.text for e in elements if e.kind == "badge"), ""),
            "logo": "yes" if any(e.kind == "logo" for e in elements) else "no",
            "min_text_contrast": f"{min((e.contrast for e in texts), default=0.0):.1f}",
        }
        if headline is not None:
            attributes["headline_lines"] = str(headline.text.count("\n") + 1)
        if template.background.kind == "generated":
            attributes["generator"] = self.generator.name
        return Composition(canvas, template, plan, elements, attributes, backdrop)

    def _plan(
        self, template: Template, cutout: Cutout, width: int, height: int, copy: Copy, scale: float
    ) -> Plan:
        text = template.text
        min_h = round(text.headline.font_size[1] * scale * 1.4)
        if text.price is not None and copy.price.strip():
            min_h += round((text.price.font_size[1] + 2 * text.price.padding + text.gap) * scale)
        min_w = round(text.min_width * width)
        product = template.product
        backing = None if product.backing is None else round(product.backing.padding * scale)
        return plan_layout(
            (width, height),
            Rect.fraction(product.area_for(width, height), width, height),
            cutout.size,
            cutout.inner,
            safe_margin=template.safe_margin,
            clearance=product.clearance,
            prefer=text.prefer,
            min_size=(min_w, min_h),
            align=product.align,
            backing_padding=backing,
        )

    def _background(self, template: Template, cutout: Cutout, plan: Plan) -> tuple[Array, RGB]:
        spec = template.background
        width, height = plan.canvas
        if spec.kind == "solid":
            key: tuple[Hashable, ...] = (spec, width, height)
            canvas = self.backgrounds.get(key, lambda: bg.solid(width, height, hex_rgb(spec.color)))
            return canvas, hex_rgb(spec.color)
        if spec.kind == "gradient":
            start, stop = hex_rgb(spec.colors[0]), hex_rgb(spec.colors[1])
            key = (spec, width, height)
            return self.backgrounds.get(
                key, lambda: bg.gradient(width, height, start, stop, spec.direction)
            ), start
        if spec.kind == "harmonised":
            key = (spec, width, height, cutout.dominant)
            made = self.backgrounds.get(
                key,
                lambda: bg.harmonised_gradient(
                    width, height, cutout.dominant, spec.scheme, spec.lightness, spec.direction
                ),
            )
            return made[0], made[1]
        if spec.kind == "blur":
            key = (spec, width, height, cutout.key)
            canvas = self.backgrounds.get(
                key,
                lambda: bg.blurred_photo(
                    width, height, cutout.bgr, spec.radius, spec.tint, spec.tint_strength
                ),
            )
            mean = canvas[::16, ::16].reshape(-1, 3).mean(axis=0)
            return canvas, (int(mean[2]), int(mean[1]), int(mean[0]))
        key = (spec, width, height, cutout.key, plan.placed, self.generator.name)
        canvas = self.backgrounds.get(key, lambda: self._generated(cutout, plan, spec.lightness))
        top = canvas[0, width // 2]
        return canvas, (int(top[2]), int(top[1]), int(top[0]))

    def _generated(self, cutout: Cutout, plan: Plan, lightness: float) -> Array:
        width, height = plan.canvas
        rgba = np.zeros((height, width, 4), np.uint8)
        placed = plan.placed.clip(width, height)
        if placed.area:
            pixels, alpha = self.scaled(cutout, plan.placed.w, plan.placed.h)
            sx, sy = placed.x - plan.placed.x, placed.y - plan.placed.y
            rgba[placed.y : placed.y1, placed.x : placed.x1, :3] = pixels[
                sy : sy + placed.h, sx : sx + placed.w, ::-1
            ]
            rgba[placed.y : placed.y1, placed.x : placed.x1, 3] = (
                255 if alpha is None else np.rint(alpha[sy : sy + placed.h, sx : sx + placed.w] * 255)
            )
        rgb = self.generator.generate(rgba, condition_vector(cutout.dominant, lightness))
        return np.ascontiguousarray(rgb[:, :, ::-1])

    def scaled(self, cutout: Cutout, w: int, h: int) -> tuple[Array, Array | None]:
        """The cut-out at w x h and its alpha as float32 0..1 (cached per product and size)."""

        def make() -> tuple[Array, Array | None]:
            pixels = _resize(cutout.bgr, (w, h))
            if cutout.alpha is None:
                return pixels, None
            alpha = _resize(cutout.alpha, (w, h)).astype(np.float32) / 255.0
            return pixels, alpha

        return self.cutouts.get((cutout.key, w, h), make)

    def _paste(self, canvas: Array, cutout: Cutout, placed: Rect) -> None:
        height, width = canvas.shape[:2]
        visible = placed.clip(width, height)
        if visible.area == 0:
            return
        pixels, alpha = self.scaled(cutout, placed.w, placed.h)
        sx, sy = visible.x - placed.x, visible.y - placed.y
        src = pixels[sy : sy + visible.h, sx : sx + visible.w]
        region = canvas[visible.y : visible.y1, visible.x : visible.x1]
        if alpha is None:
            region[...] = src
            return
        weight = np.ascontiguousarray(alpha[sy : sy + visible.h, sx : sx + visible.w])
        region[...] = cv2.blendLinear(src, np.ascontiguousarray(region), weight, 1.0 - weight)

    # ----------------------------------------------------------------- text

    def _fit(
        self, text: str, style: TextStyle, width: int, height: int, scale: float
    ) -> tuple[Font, int, list[str]]:
        """The largest font size whose wrapped lines fit (binary search); at the smallest size, the
        lines that fit, the last ending in an ellipsis. Cached per text, style and box."""
        return self.fits.get(
            (text, style, width, height, round(scale, 4)),
            lambda: self._fit_uncached(text, style, width, height, scale),
        )

    def _fit_uncached(
        self, text: str, style: TextStyle, width: int, height: int, scale: float
    ) -> tuple[Font, int, list[str]]:
        cjk = has_cjk(text)
        largest = max(4, round(style.font_size[0] * scale))
        smallest = max(4, min(largest, round(style.font_size[1] * scale)))

        def layout(size: int) -> tuple[Font, list[str], bool]:
            font = self.fonts.get(size, bold=style.bold, cjk=cjk)
            lines = wrap(text, font.getlength, width)
            ascent, descent = _metrics(font, size)
            block = round(size * style.line_spacing) * (len(lines) - 1) + ascent + descent
            return font, lines, len(lines) <= style.max_lines and block <= height

        low, high = smallest, largest
        best: tuple[int, Font, list[str]] | None = None
        while low <= high:
            mid = (low + high) // 2
            font, lines, fits = layout(mid)
            if fits:
                best, low = (mid, font, lines), mid + 1
            else:
                high = mid - 1
        if best is not None:
            return best[1], best[0], best[2]
        font, lines, _ = layout(smallest)
        ascent, descent = _metrics(font, smallest)
        room = 1 + max(0, height - ascent - descent) // max(1, round(smallest * style.line_spacing))
        keep = max(1, min(style.max_lines, room, len(lines)))
        if keep < len(lines):
            lines = [*lines[: keep - 1], ellipsize(lines[keep - 1], font.getlength, width)]
        return font, smallest, lines

    def _text_block(
        self, kind: str, text: str, style: TextStyle, width: int, height: int, scale: float
    ) -> _TextBlock:
        font, size, lines = self._fit(text, style, width, height, scale)
        ascent, descent = _metrics(font, size)
        step = round(size * style.line_spacing)
        return _TextBlock(kind, lines, font, size, step, step * (len(lines) - 1) + ascent + descent, style)

    def _price_block(self, text: str, style: PriceStyle, width: int, scale: float) -> _TextBlock:
        padding = round(style.padding * scale)
        size = max(4, round(style.font_size[0] * scale))
        smallest = max(4, round(style.font_size[1] * scale))
        while True:
            font = self.fonts.get(size, bold=style.bold, cjk=has_cjk(text))
            left, top, right, bottom = (round(v) for v in font.getbbox(text))
            tag = (right - left + 2 * padding, bottom - top + 2 * padding)
            if tag[0] <= width or size <= smallest:
                break
            size = max(smallest, min(size - 1, int(size * 0.9)))
        tag = (min(tag[0], width), tag[1])
        return _TextBlock("price", [text], font, size, 0, tag[1], style, tag, [left, top, right, bottom])

    def _draw_text(
        self,
        canvas: Array,
        template: Template,
        copy: Copy,
        plan: Plan,
        scale: float,
        accent_rgb: RGB,
        glyphs: bool = True,
    ) -> list[Element]:
        region = plan.region
        if region.area == 0:
            return []
        spec = template.text
        gap = round(spec.gap * scale)
        blocks: list[_TextBlock] = []
        budget = region.h
        price = None
        if spec.price is not None and copy.price.strip():
            price = self._price_block(copy.price.strip(), spec.price, region.w, scale)
            budget -= price.height + gap
        sub = None
        subline = " ".join(copy.subline.split())
        if spec.subline is not None and subline:
            sub = self._text_block(
                "subline", subline, spec.subline, region.w, max(1, round(budget * 0.3)), scale
            )
            budget -= sub.height + gap
        headline = " ".join(copy.headline.split())
        if headline:
            blocks.append(
                self._text_block("headline", headline, spec.headline, region.w, max(1, budget), scale)
            )
        if sub is not None:
            blocks.append(sub)
        if price is not None:
            blocks.append(price)
        if not blocks:
            return []
        total = sum(b.height for b in blocks) + gap * (len(blocks) - 1)
        top = region.y + max(0, (region.h - total) // 2)
        default_align = {"right": "left", "left": "right"}.get(plan.region_name, "center")
        elements: list[Element] = []
        for block in blocks:
            style = block.style
            align = style.align if isinstance(style, TextStyle) and style.align != "auto" else default_align
            if block.kind == "price":
                elements.append(
                    self._draw_price(
                        canvas, block, region, top, align, accent_rgb, template.min_contrast, glyphs
                    )
                )
            else:
                elements.append(
                    self._draw_lines(canvas, block, region, top, align, template.min_contrast, glyphs)
                )
            top += block.height + gap
        return elements

    def _draw_lines(
        self,
        canvas: Array,
        block: _TextBlock,
        region: Rect,
        top: int,
        align: str,
        minimum: float,
        glyphs: bool = True,
    ) -> Element:
        widths = [round(block.font.getlength(line)) for line in block.lines]
        lefts = [_align(region.w, w, align) for w in widths]
        x0 = region.x + min(lefts)
        rect = Rect(
            x0,
            top,
            max(1, max(left + w for left, w in zip(lefts, widths, strict=True)) + region.x - x0),
            block.height,
        )
        rect = rect.clip(canvas.shape[1], canvas.shape[0])
        style = block.style
        preferred = None if style.color == "auto" else hex_rgb(style.color)
        backdrop = backdrop_range(canvas[rect.y : rect.y1, rect.x : rect.x1])
        chosen = pick_ink(backdrop, minimum, preferred)
        scrim = "none"
        if chosen is None:
            ink, scrim_rgb, opacity = scrim_for(backdrop, minimum)
            pad = max(4, block.size // 3)
            # The scrim may not reach into the product's clearance: pad only inside the region.
            area = rect.inflate(pad).clip(canvas.shape[1], canvas.shape[0])
            area = Rect(max(area.x, region.x), max(area.y, region.y), 0, 0).union(
                Rect(min(area.x1, region.x1), min(area.y1, region.y1), 0, 0)
            )
            scrim = "dark" if scrim_rgb == (0, 0, 0) else "light"
            for _ in range(4):  # measured, not assumed: coloured pixels blend unlike greys
                _fill(canvas, area, scrim_rgb, pad, opacity)
                ratio = worst_contrast(ink, backdrop_range(canvas[rect.y : rect.y1, rect.x : rect.x1]))
                if ratio >= minimum:
                    break
                opacity = 0.5
            chosen = (ink, ratio)
        ink, ratio = chosen
        if not glyphs:
            return Element(block.kind, rect, ink, ratio, scrim, "\n".join(block.lines))
        with _Layer(canvas, rect) as draw:
            for index, line in enumerate(block.lines):
                x = region.x + lefts[index] - rect.x
                draw.text((x, index * block.step), line, font=block.font, fill=ink[::-1])
        return Element(block.kind, rect, ink, ratio, scrim, "\n".join(block.lines))

    def _draw_price(
        self,
        canvas: Array,
        block: _TextBlock,
        region: Rect,
        top: int,
        align: str,
        accent_rgb: RGB,
        minimum: float,
        glyphs: bool = True,
    ) -> Element:
        style = block.style
        assert isinstance(style, PriceStyle)
        tag_w, tag_h = block.tag
        rect = Rect(region.x + _align(region.w, tag_w, align), top, tag_w, tag_h).clip(
            canvas.shape[1], canvas.shape[0]
        )
        fill = accent_rgb if style.fill == "accent" else hex_rgb(style.fill)
        ink, ratio = _ink_on(fill, None if style.color == "auto" else hex_rgb(style.color), minimum)
        radius = min(round(style.radius * block.size / max(1, style.font_size[0])), rect.h // 2)
        _fill(canvas, rect, fill, radius)
        left, top_, right, bottom = block.offsets
        origin = ((rect.w - (right - left)) // 2 - left, (rect.h - (bottom - top_)) // 2 - top_)
        if glyphs:
            with _Layer(canvas, rect) as draw:
                draw.text(origin, block.lines[0], font=block.font, fill=ink[::-1])
        # The element is the text on the tag (what contrast is about), not the rounded tag itself.
        text_rect = Rect(rect.x + origin[0] + left, rect.y + origin[1] + top_, right - left, bottom - top_)
        return Element(
            "price", text_rect.clip(canvas.shape[1], canvas.shape[0]), ink, ratio, "tag", block.lines[0]
        )

    # ----------------------------------------------------------------- badge and logo

    def _badge_and_logo(
        self,
        canvas: Array,
        template: Template,
        copy: Copy,
        plan: Plan,
        scale: float,
        accent_rgb: RGB,
        occupied: list[Rect],
        glyphs: bool = True,
    ) -> list[Element]:
        elements: list[Element] = []
        short = min(plan.canvas)
        logo = template.logo
        if logo is not None:
            mark = self._logo(logo.asset, max(8, round(logo.height * short)))
            spot = place_in_corner((mark.shape[1], mark.shape[0]), plan.safe, logo.corners, occupied)
            if spot is not None:
                rect = spot[1]
                region = canvas[rect.y : rect.y1, rect.x : rect.x1]
                weight = np.ascontiguousarray(mark[:, :, 3].astype(np.float32) / 255.0)
                region[...] = cv2.blendLinear(
                    np.ascontiguousarray(mark[:, :, :3]), np.ascontiguousarray(region), weight, 1.0 - weight
                )
                occupied.append(rect)
                elements.append(Element("logo", rect))
        badge = template.badge
        text = (badge.text if copy.badge is None else copy.badge).strip() if badge is not None else ""
        if badge is None or not text:
            return elements
        height = max(12, round(badge.size * short))
        font_size = max(6, round(height * (0.34 if badge.shape == "circle" else 0.55)))
        font = self.fonts.get(font_size, bold=True, cjk=has_cjk(text))
        while font_size > 6 and font.getlength(text) > height * (0.78 if badge.shape == "circle" else 3.5):
            font_size -= 1
            font = self.fonts.get(font_size, bold=True, cjk=has_cjk(text))
        left, top, right, bottom = (round(v) for v in font.getbbox(text))
        width = height if badge.shape == "circle" else right - left + height // 2
        spot = place_in_corner((width, height), plan.safe, badge.corners, occupied)
        if spot is None:
            return elements
        rect = spot[1]
        fill = accent_rgb if badge.fill == "accent" else hex_rgb(badge.fill)
        ink, ratio = _ink_on(
            fill, None if badge.color == "auto" else hex_rgb(badge.color), template.min_contrast
        )
        _fill(canvas, rect, fill, height // 2 if badge.shape == "circle" else height // 5)
        origin = ((rect.w - (right - left)) // 2 - left, (rect.h - (bottom - top)) // 2 - top)
        if glyphs:
            with _Layer(canvas, rect) as draw:
                draw.text(origin, text, font=font, fill=ink[::-1])
        text_rect = Rect(rect.x + origin[0] + left, rect.y + origin[1] + top, right - left, bottom - top)
        elements.append(Element("badge", text_rect, ink, ratio, "tag", text))
        return elements

    def _logo(self, asset: str, height: int) -> Array:
        def make() -> Array:
            raw: Any = cv2.imread(str(catalogue_dir() / "assets" / asset), cv2.IMREAD_UNCHANGED)
            if raw is None or raw.ndim != 3 or raw.shape[2] != 4:
                raise RenderRejected(f"logo asset {asset!r} must be an RGBA PNG")
            width = max(1, round(raw.shape[1] * height / raw.shape[0]))
            return np.asarray(cv2.resize(raw, (width, height), interpolation=cv2.INTER_AREA), dtype=np.uint8)

        logo: Array = self._logos.get((asset, height), make)
        return logo


def _align(extent: int, used: int, how: str) -> int:
    if how in ("center", "middle"):
        return max(0, (extent - used) // 2)
    if how in ("right", "bottom"):
        return max(0, extent - used)
    return 0


def _ink_on(fill: RGB, preferred: RGB | None, minimum: float) -> tuple[RGB, float]:
    """Ink for text on a solid fill: preferred, light, dark or black, whichever reaches `minimum`."""
    fill_l = relative_luminance(fill)
    candidates = [c for c in (preferred, (255, 255, 255), (20, 20, 24), (0, 0, 0)) if c is not None]
    scored = [(ink, contrast_ratio(relative_luminance(ink), fill_l)) for ink in candidates]
    for ink, ratio in scored:
        if ratio >= minimum:
            return ink, ratio
    return max(scored, key=lambda pair: pair[1])
