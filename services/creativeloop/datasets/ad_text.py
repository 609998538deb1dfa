"""Rendered ad text with known content: ad copy lines, the fonts to draw them, sample ads.

No labelled ad-image set ships offline, so ads are rendered: Chinese and English ad copy
(prices like ¥199 and $29.99 included) in several installed fonts and sizes, on solid, gradient,
noisy photo-like and real-photo backgrounds, dark-on-light and light-on-dark. Rendering is
deterministic for a seed, so a figure can be reproduced and compared across model versions.
The OCR report (`creativeloop eval ocr`) reads `build_set`; the scene set's posters
(`creativeloop.datasets.scenes`) draw the same copy with the same fonts and backdrops.
"""

from __future__ import annotations

import io
import json
import math
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

Pixels = npt.NDArray[np.uint8]

ZH_COPY: tuple[str, ...] = (
    "限时特惠",
    "全场五折起",
    "新品上市",
    "买一送一",
    "满299减50",
    "到手价¥199",
    "包邮到家",
    "官方旗舰店",
    "正品保障",
    "纯棉短袖T恤",
    "夏季新款连衣裙",
    "今日爆款",
    "领券立减30元",
    "会员专享价",
    "秒杀价¥59",
    "透气舒适 简约百搭",
    "七天无理由退换",
    "双十一狂欢节",
    "爆款直降",
    "品质生活从这里开始",
    "¥1299限量抢购",
    "第二件半价",
    "前100名送好礼",
    "轻薄防晒衣",
)
EN_COPY: tuple[str, ...] = (
    "SUMMER SALE",
    "50% OFF",
    "Free Shipping",
    "New Arrivals",
    "Only $29.99",
    "Limited Time Offer",
    "Buy 1 Get 1 Free",
    "Shop Now",
    "Up to 70% Off",
    "Best Seller",
    "Premium Cotton Tee",
    "Was $59.99 Now $39.99",
    "Flash Deal",
    "Members Save 20%",
    "Order Today",
    "Lightweight & Breathable",
    "100% Organic Cotton",
    "Holiday Gift Guide",
)
LANGUAGES = ("zh", "en")
BACKGROUNDS = ("solid", "gradient", "noise", "photo")
POLARITIES = ("dark_on_light", "light_on_dark")
#: Text heights (font size in px) per size class.
SIZES: dict[str, tuple[int, int]] = {"small": (18, 26), "medium": (30, 46), "large": (56, 88)}
CANVASES = ((800, 800), (900, 420), (750, 1000), (640, 360))
PHOTO_DIR = Path("/usr/share/doc/opencv-doc/examples/data")  # Debian opencv-doc
PHOTOS = ("fruits.jpg", "home.jpg", "building.jpg", "butterfly.jpg", "orange.jpg", "stuff.jpg", "aero1.jpg")


@dataclass(frozen=True)
class FontSpec:
    """A font by fontconfig family and style, with the Debian path used when fc-list is missing."""

    name: str
    family: str
    style: str
    cjk: bool
    fallback: Path
    fallback_index: int = 0


_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")  # fonts-dejavu-core
_NOTO = Path("/usr/share/fonts/opentype/noto")  # fonts-noto-cjk
_SERIF_SC = _NOTO / "NotoSerifCJK-Regular.ttc"
_WQY = Path("/usr/share/fonts/truetype/wqy")  # fonts-wqy-microhei
FONTS: tuple[FontSpec, ...] = (
    FontSpec("DejaVu Sans Bold", "DejaVu Sans", "Bold", False, _DEJAVU / "DejaVuSans-Bold.ttf"),
    FontSpec("DejaVu Serif", "DejaVu Serif", "Book", False, _DEJAVU / "DejaVuSerif.ttf"),
    FontSpec("DejaVu Sans Mono", "DejaVu Sans Mono", "Book", False, _DEJAVU / "DejaVuSansMono.ttf"),
    FontSpec("WenQuanYi Micro Hei", "WenQuanYi Micro Hei", "Regular", True, _WQY / "wqy-microhei.ttc"),
    FontSpec("Noto Sans CJK SC Bold", "Noto Sans CJK SC", "Bold", True, _NOTO / "NotoSansCJK-Bold.ttc", 2),
    FontSpec(
        "Noto Serif CJK SC", "Noto Serif CJK SC", "Regular", True, _NOTO / "NotoSerifCJK-Regular.ttc", 2
    ),
)


@dataclass(frozen=True)
class ResolvedFont:
    spec: FontSpec
    path: Path
    index: int
    how: str  # "fc-list" or "fallback path"


def _fc_list(spec: FontSpec) -> tuple[Path, int] | None:
    try:
        out = subprocess.run(
            ["fc-list", "-f", "%{file}|%{index}\n", f"{spec.family}:style={spec.style}"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in sorted(out.splitlines()):
        path, _, index = line.partition("|")
        if path and Path(path).is_file():
            return Path(path), int(index or 0)
    return None


def resolve_fonts(specs: Iterable[FontSpec] = FONTS) -> tuple[list[ResolvedFont], list[str]]:
    """Installed fonts (fc-list first, then the Debian path) and a note for each one missing."""
    found: list[ResolvedFont] = []
    missing: list[str] = []
    for spec in specs:
        hit = _fc_list(spec)
        if hit is not None:
            found.append(ResolvedFont(spec, hit[0], hit[1], "fc-list"))
        elif spec.fallback.is_file():
            found.append(ResolvedFont(spec, spec.fallback, spec.fallback_index, "fallback path"))
        else:
            package = "fonts-dejavu-core" if not spec.cjk else "fonts-wqy-microhei / fonts-noto-cjk"
            missing.append(f"{spec.name}: not installed (Debian package {package}); its samples are skipped")
    return found, missing


@dataclass(frozen=True)
class Sample:
    """One rendered ad and what it says."""

    index: int
    language: str
    font: str
    background: str
    polarity: str
    size: str
    lines: tuple[str, ...]
    png: bytes


def _luma(bgr: Sequence[float]) -> float:
    return 0.114 * bgr[0] + 0.587 * bgr[1] + 0.299 * bgr[2]


def pick_colour(rng: np.random.Generator, light: bool) -> tuple[int, int, int]:
    """A random colour whose luminance sits clearly on the requested side."""
    while True:
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        luma = _luma(colour)
        if (light and luma > 185) or (not light and luma < 70):
            return (colour[0], colour[1], colour[2])


def _photo_like(rng: np.random.Generator, width: int, height: int) -> npt.NDArray[np.float32]:
    """Multi-scale coloured noise with soft blobs and grain: busy like a photo, 0..1 floats."""
    canvas = np.zeros((height, width, 3), np.float32)
    for octave in range(4):
        scale = 2 ** (octave + 2)
        small = rng.random((max(2, height // scale), max(2, width // scale), 3)).astype(np.float32)
        canvas += cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC) / (octave + 1)
    for _ in range(int(rng.integers(3, 8))):
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        axes = (int(rng.integers(width // 10, width // 3)), int(rng.integers(height // 10, height // 3)))
        colour = tuple(float(v) for v in rng.random(3))
        cv2.ellipse(canvas, centre, axes, float(rng.integers(0, 180)), 0, 360, colour, -1)
    canvas = np.asarray(cv2.GaussianBlur(canvas, (0, 0), 2.0), dtype=np.float32)
    canvas -= canvas.min()
    canvas /= max(float(canvas.max()), 1e-6)
    canvas += rng.normal(0, 0.03, canvas.shape).astype(np.float32)
    return np.clip(canvas, 0, 1)


def _real_photo(rng: np.random.Generator, width: int, height: int) -> npt.NDArray[np.float32] | None:
    names = [name for name in PHOTOS if (PHOTO_DIR / name).is_file()]
    if not names:
        return None
    photo = cv2.imread(str(PHOTO_DIR / names[int(rng.integers(0, len(names)))]), cv2.IMREAD_COLOR)
    if photo is None:
        return None
    scale = max(width / photo.shape[1], height / photo.shape[0])
    photo = cv2.resize(photo, (math.ceil(photo.shape[1] * scale), math.ceil(photo.shape[0] * scale)))
    top = int(rng.integers(0, photo.shape[0] - height + 1))
    left = int(rng.integers(0, photo.shape[1] - width + 1))
    return photo[top : top + height, left : left + width].astype(np.float32) / 255.0


def backdrop(rng: np.random.Generator, kind: str, light: bool, width: int, height: int) -> tuple[Pixels, str]:
    """The canvas (BGR) and where it came from (real photos fall back to noise when missing)."""
    if kind == "solid":
        return np.full((height, width, 3), pick_colour(rng, light), np.uint8), kind
    if kind == "gradient":
        start = np.array(pick_colour(rng, light), np.float32)
        stop = np.array(pick_colour(rng, light), np.float32)
        angle = rng.uniform(0, math.pi)
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        t = xx / width * math.cos(angle) + yy / height * math.sin(angle)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
        canvas = start + (stop - start) * t[..., None]
        return np.clip(canvas, 0, 255).astype(np.uint8), kind
    texture = _real_photo(rng, width, height) if kind == "photo" else None
    source = "photo" if texture is not None else "noise"
    if texture is None:
        texture = _photo_like(rng, width, height)
    # Keep the busy texture on the requested side of mid-grey, as an ad's scrim would.
    low, high = (0.55, 1.0) if light else (0.0, 0.42)
    canvas = (low + (high - low) * texture) * 255.0
    return np.clip(canvas, 0, 255).astype(np.uint8), source


def load_font(resolved: ResolvedFont, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(resolved.path), size, index=resolved.index)


def render_sample(
    index: int,
    rng: np.random.Generator,
    language: str,
    font: ResolvedFont,
    background: str,
    polarity: str,
    size: str,
) -> Sample:
    """Draw 1-3 lines of copy, each fitted to the canvas width, stacked without overlap."""
    width, height = CANVASES[int(rng.integers(0, len(CANVASES)))]
    light_bg = polarity == "dark_on_light"
    canvas, source = backdrop(rng, background, light_bg, width, height)
    copy = ZH_COPY if language == "zh" else EN_COPY
    wanted = int(rng.integers(1, 4))
    picks = [copy[int(i)] for i in rng.choice(len(copy), size=wanted, replace=False)]
    low, high = SIZES[size]
    image = Image.fromarray(cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB))
    draw = ImageDraw.Draw(image)
    margin = max(12, width // 20)
    y = int(rng.integers(margin, max(margin + 1, height // 4)))
    lines: list[str] = []
    for text in picks:
        px = int(rng.integers(low, high + 1))
        face = load_font(font, px)
        while px > 12 and draw.textlength(text, font=face) > width - 2 * margin:
            px = int(px * 0.9)
            face = load_font(font, px)
        left_, top_, right_, bottom_ = (round(v) for v in draw.textbbox((0, 0), text, font=face))
        if y + (bottom_ - top_) + margin > height:
            break
        free = width - 2 * margin - (right_ - left_)
        x = margin + (free // 2 if rng.random() < 0.5 else int(rng.integers(0, max(1, free // 3))))
        colour = pick_colour(rng, not light_bg)
        draw.text((x - left_, y - top_), text, font=face, fill=(colour[2], colour[1], colour[0]))
        lines.append(text)
        y += (bottom_ - top_) + int(px * rng.uniform(0.6, 1.2))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return Sample(index, language, font.spec.name, source, polarity, size, tuple(lines), buffer.getvalue())


def build_set(count: int, seed: int, fonts: Sequence[ResolvedFont]) -> list[Sample]:
    """``count`` samples; conditions cycle so every language/background/polarity/size is covered."""
    rng = np.random.default_rng(seed)
    by_language = {lang: [f for f in fonts if f.spec.cjk or lang == "en"] for lang in LANGUAGES}
    samples = []
    for index in range(count):
        language = LANGUAGES[index % len(LANGUAGES)]
        choices = by_language[language]
        if not choices:
            continue
        font = choices[(index // len(LANGUAGES)) % len(choices)]
        background = BACKGROUNDS[(index // 2) % len(BACKGROUNDS)]
        polarity = POLARITIES[(index // 8) % len(POLARITIES)]
        size = tuple(SIZES)[(index // 16) % len(SIZES)]
        samples.append(render_sample(index, rng, language, font, background, polarity, size))
    return samples


def save_set(samples: Sequence[Sample], folder: Path) -> None:
    """The rendered PNGs (``0000.png`` ...) and ``truth.json`` (every field but the pixels)."""
    folder.mkdir(parents=True, exist_ok=True)
    for sample in samples:
        (folder / f"{sample.index:04d}.png").write_bytes(sample.png)
    truth = [{k: v for k, v in asdict(s).items() if k != "png"} for s in samples]
    (folder / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1), encoding="utf-8")
