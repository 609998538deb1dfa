"""The template catalogue: declarative JSON files (format version 2) in `templates/`, loaded once.

A template names *what* a creative is made of (background, product cut-out, headline, subline,
price tag, badge, logo) and *preferences* for where things go; the layout engine
(`creativeloop.imagegen.layout`) decides the final boxes from the product's real box, so one
template serves tall, wide and off-centre products at every size in :data:`SIZES`. The format is
documented with an example in docs/templates.md; unknown keys are errors, so a typo fails at
start-up rather than rendering something else.

Font sizes and paddings are pixels at a canvas whose shorter side is :data:`REFERENCE_SIDE`; they
scale with the canvas. Boxes are ``[x, y, width, height]`` fractions of the canvas.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from collections.abc import Mapping
from importlib.resources.abc import Traversable
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

#: The one format this code reads. Bump it (and document a migration) on any breaking change.
FORMAT_VERSION = 2
#: Font sizes and paddings in templates are pixels at a canvas whose shorter side is this long.
REFERENCE_SIDE = 800
#: The size slot table: every template names the slots it is designed for.
SIZES: Mapping[str, tuple[int, int]] = MappingProxyType(
    {"1:1": (800, 800), "4:3": (800, 600), "9:16": (720, 1280), "1.91:1": (1200, 628)}
)

Colour = Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")]
#: A colour, or "accent": derived from the product's dominant colour at render time.
Paint = Colour | Literal["accent"]
#: A colour, or "auto": dark or light, whichever meets the template's minimum contrast.
Ink = Colour | Literal["auto"]
Box = tuple[float, float, float, float]
Region = Literal["left", "right", "top", "bottom"]
Corner = Literal["top-left", "top-right", "bottom-left", "bottom-right"]


class TemplateError(ValueError):
    pass


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _check_box(box: Box | None) -> Box | None:
    if box is None:
        return None
    x, y, w, h = box
    if not (0 <= x < 1 and 0 <= y < 1 and 0 < w <= 1 and 0 < h <= 1):
        raise ValueError(f"box {list(box)} must be fractions: 0 <= x, y < 1 and 0 < width, height <= 1")
    if x + w > 1.0001 or y + h > 1.0001:
        raise ValueError(f"box {list(box)} reaches outside the canvas")
    return box


class SolidBackground(_Frozen):
    kind: Literal["solid"]
    color: Colour


class GradientBackground(_Frozen):
    kind: Literal["gradient"]
    colors: tuple[Colour, Colour]
    direction: Literal["vertical", "horizontal", "diagonal"] = "vertical"


class BlurBackground(_Frozen):
    """The product photo itself, scaled to cover the canvas, blurred and washed with `tint`."""

    kind: Literal["blur"]
    radius: float = Field(0.04, gt=0, le=0.2, description="blur sigma, fraction of the longer side")
    tint: Colour = "#ffffff"
    tint_strength: float = Field(0.35, ge=0, le=1)


class HarmonisedBackground(_Frozen):
    """A gradient of two colours derived from the product's dominant colour."""

    kind: Literal["harmonised"]
    scheme: Literal["tint", "analogous", "complementary"] = "tint"
    lightness: float = Field(0.92, ge=0, le=1, description="HSV value of the background colours")
    direction: Literal["vertical", "horizontal", "diagonal"] = "vertical"


class GeneratedBackground(_Frozen):
    """From the background generator slot (procedural by default, a model when configured)."""

    kind: Literal["generated"]
    lightness: float = Field(0.9, ge=0, le=1)


Background = Annotated[
    SolidBackground | GradientBackground | BlurBackground | HarmonisedBackground | GeneratedBackground,
    Field(discriminator="kind"),
]


class Backing(_Frozen):
    """A card drawn behind the placed product (text keeps off it too)."""

    color: Colour
    padding: int = Field(16, ge=0, le=200)
    radius: int = Field(18, ge=0, le=400)


class ProductLayer(_Frozen):
    area: Box
    area_landscape: Box | None = None
    area_portrait: Box | None = None
    align: Literal["center", "left", "right", "top", "bottom"] = "center"
    min_mask_confidence: float = Field(0.5, ge=0, le=1)
    clearance: float = Field(0.025, ge=0, le=0.2, description="gap text keeps from the product box")
    backing: Backing | None = None

    check_boxes = field_validator("area", "area_landscape", "area_portrait")(_check_box)

    def area_for(self, width: int, height: int) -> Box:
        """The product's area for this canvas shape (landscape above 1.15:1, portrait below 1:1.15)."""
        if width > 1.15 * height and self.area_landscape is not None:
            return self.area_landscape
        if height > 1.15 * width and self.area_portrait is not None:
            return self.area_portrait
        return self.area


def _check_sizes(sizes: tuple[int, int]) -> tuple[int, int]:
    if not 4 <= sizes[1] <= sizes[0] <= 1000:
        raise ValueError("font_size must be [largest, smallest] with 4 <= smallest <= largest <= 1000")
    return sizes


class TextStyle(_Frozen):
    font_size: tuple[int, int]
    bold: bool = True
    color: Ink = "auto"
    align: Literal["auto", "left", "center", "right"] = "auto"
    line_spacing: float = Field(1.15, ge=0.8, le=3.0)
    max_lines: int = Field(4, ge=1, le=20)

    check_sizes = field_validator("font_size")(_check_sizes)


class PriceStyle(_Frozen):
    font_size: tuple[int, int]
    fill: Paint = "accent"
    color: Ink = "auto"
    bold: bool = True
    padding: int = Field(12, ge=0, le=200)
    radius: int = Field(10, ge=0, le=500)

    check_sizes = field_validator("font_size")(_check_sizes)


class TextLayout(_Frozen):
    prefer: tuple[Region, ...] = ("right", "bottom", "top", "left")
    min_width: float = Field(0.26, gt=0, le=1, description="narrowest text region, fraction of width")
    gap: int = Field(14, ge=0, le=200, description="pixels between text elements")
    headline: TextStyle
    subline: TextStyle | None = None
    price: PriceStyle | None = None

    @field_validator("prefer")
    @classmethod
    def _regions(cls, prefer: tuple[str, ...]) -> tuple[str, ...]:
        if not prefer or len(set(prefer)) != len(prefer):
            raise ValueError("prefer must list distinct regions (left, right, top, bottom)")
        return prefer


class BadgeStyle(_Frozen):
    text: str = Field("NEW", max_length=12)
    shape: Literal["circle", "tag"] = "circle"
    size: float = Field(0.15, gt=0, le=0.4, description="diameter or height, fraction of the shorter side")
    fill: Paint = "accent"
    color: Ink = "auto"
    corners: tuple[Corner, ...] = ("top-left", "top-right", "bottom-left", "bottom-right")


class LogoStyle(_Frozen):
    asset: str = Field(pattern=r"^[A-Za-z0-9_.-]+\.png$", description="file in templates/assets/")
    height: float = Field(0.07, gt=0, le=0.3, description="fraction of the shorter side")
    corners: tuple[Corner, ...] = ("top-right", "top-left", "bottom-right", "bottom-left")


class Template(_Frozen):
    format_version: Literal[2]
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    description: str
    layout: str = Field(min_length=1, max_length=64, description="label the ranker can learn from")
    sizes: tuple[str, ...]
    safe_margin: float = Field(0.04, ge=0, le=0.2)
    min_contrast: float = Field(4.5, ge=4.5, le=21)
    background: Background
    product: ProductLayer
    text: TextLayout
    badge: BadgeStyle | None = None
    logo: LogoStyle | None = None

    @model_validator(mode="before")
    @classmethod
    def _version_first(cls, data: Any) -> Any:
        if isinstance(data, dict):
            version = data.get("format_version")
            if version != FORMAT_VERSION:
                raise ValueError(
                    f"format_version {version!r} is not supported: this build reads {FORMAT_VERSION} "
                    "(docs/templates.md describes it and the migration from 1)"
                )
        return data

    @field_validator("sizes")
    @classmethod
    def _sizes(cls, sizes: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [s for s in sizes if s not in SIZES]
        if unknown or not sizes:
            raise ValueError(f"sizes {list(sizes)}: each must be one of {list(SIZES)}")
        return sizes

    @property
    def background_kind(self) -> str:
        return self.background.kind


def parse_template(text: str, name: str = "<template>") -> Template:
    """One template from its JSON text; TemplateError names the file and the problem."""
    try:
        return Template.model_validate(json.loads(text))
    except json.JSONDecodeError as exc:
        raise TemplateError(f"{name}: not JSON: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or '(top level)'}: {error['msg']}"
            for error in exc.errors()
        )
        raise TemplateError(f"{name}: {problems}") from exc


def load_templates(directory: Traversable | Path) -> dict[str, Template]:
    """Every `*.json` template in `directory`, by id (sorted)."""
    found: dict[str, Template] = {}
    for entry in sorted(directory.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        template = parse_template(entry.read_text(encoding="utf-8"), entry.name)
        if entry.name != f"{template.id}.json":
            raise TemplateError(f"{entry.name}: id {template.id!r} does not match the file name")
        if template.logo is not None and not (directory / "assets" / template.logo.asset).is_file():
            raise TemplateError(f"{entry.name}: logo asset {template.logo.asset!r} not in assets/")
        found[template.id] = template
    if not found:
        raise TemplateError(f"no templates in {directory}")
    return found


def catalogue_dir() -> Traversable:
    return importlib.resources.files("creativeloop.imagegen") / "templates"


@functools.cache
def load_catalogue() -> Mapping[str, Template]:
    """The built-in templates (package data), loaded and validated once per process."""
    return MappingProxyType(load_templates(catalogue_dir()))
