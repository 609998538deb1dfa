"""The template catalogue: small declarative JSON files in `templates/`, loaded once.

A template says where the product image, the headline and the price go, over what background.
Geometry is in fractions of the canvas, so one template renders at any size; font sizes and
paddings are in pixels at the template's own `size` and scale with the canvas. Format (every
key is required unless marked optional; unknown keys are an error)::

    {
      "id": "split-left",                       # unique; the file is <id>.json
      "description": "Product left, text right.",
      "layout": "split",                         # free-form label the ranker can learn from
      "size": [800, 800],                        # default canvas [width, height] in pixels
      "background": {"color": "#ffffff"}         # a solid colour, or a two-stop gradient:
                    {"gradient": ["#fbf7f2", "#eadfd0"], "direction": "vertical"},
                                                 #   direction: vertical | horizontal | diagonal
      "shapes": [                                # optional: rectangles drawn on the background
        {"box": [0.0, 0.0, 0.56, 1.0], "color": "#ffffff"}
      ],
      "product": {"box": [0.04, 0.08, 0.48, 0.84]},   # the image is fitted inside, centred,
                                                       # aspect ratio kept
      "headline": {
        "box": [0.60, 0.12, 0.36, 0.50],         # [x, y, width, height], fractions of the canvas
        "color": "#1d1d1f",
        "font_size": [64, 22],                   # [largest, smallest]: shrinks until it fits
        "bold": true,                            # optional, default true
        "align": "left",                         # optional: left | center | right
        "valign": "top",                         # optional: top | middle | bottom
        "line_spacing": 1.15,                    # optional, times the font size
        "max_lines": 5                           # optional; longer text ends with an ellipsis
      },
      "price": {                                 # a tag: text on a rounded rectangle
        "box": [0.60, 0.70, 0.36, 0.14],
        "color": "#ffffff", "fill": "#c8102e",
        "font_size": 44,                         # shrinks (down to half) if the tag is too wide
        "bold": true, "align": "left", "valign": "middle",   # optional
        "padding": 14, "radius": 12              # optional, pixels at `size`
      }
    }

Colours are "#rrggbb". `load_catalogue()` validates every file and fails on the first bad one,
so a broken template stops the service at start-up rather than at the first render.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from collections.abc import Mapping
from importlib.resources.abc import Traversable
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Colour = Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")]
Box = tuple[float, float, float, float]


class TemplateError(ValueError):
    pass


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _check_box(box: Box) -> Box:
    x, y, w, h = box
    if not (0 <= x < 1 and 0 <= y < 1 and 0 < w <= 1 and 0 < h <= 1):
        raise ValueError(f"box {list(box)} must be fractions: 0 <= x, y < 1 and 0 < width, height <= 1")
    if x + w > 1.0001 or y + h > 1.0001:
        raise ValueError(f"box {list(box)} reaches outside the canvas")
    return box


class Background(_Frozen):
    color: Colour | None = None
    gradient: tuple[Colour, Colour] | None = None
    direction: Literal["vertical", "horizontal", "diagonal"] = "vertical"

    @model_validator(mode="after")
    def _one_kind(self) -> Background:
        if (self.color is None) == (self.gradient is None):
            raise ValueError("background needs exactly one of color or gradient")
        return self

    @property
    def kind(self) -> str:
        return "solid" if self.gradient is None else "gradient"

    @property
    def main_colour(self) -> str:
        """The colour that describes the background (the gradient's first stop)."""
        return (self.color or (self.gradient or ("#000000",))[0]).lower()


class Shape(_Frozen):
    box: Box
    color: Colour

    check_box = field_validator("box")(_check_box)


class ProductSlot(_Frozen):
    box: Box

    check_box = field_validator("box")(_check_box)


class HeadlineStyle(_Frozen):
    box: Box
    color: Colour
    font_size: tuple[int, int]
    bold: bool = True
    align: Literal["left", "center", "right"] = "left"
    valign: Literal["top", "middle", "bottom"] = "top"
    line_spacing: float = Field(1.15, ge=0.8, le=3.0)
    max_lines: int = Field(4, ge=1, le=20)

    check_box = field_validator("box")(_check_box)

    @field_validator("font_size")
    @classmethod
    def _sizes(cls, sizes: tuple[int, int]) -> tuple[int, int]:
        if not 4 <= sizes[1] <= sizes[0] <= 1000:
            raise ValueError("font_size must be [largest, smallest] with 4 <= smallest <= largest <= 1000")
        return sizes


class PriceStyle(_Frozen):
    box: Box
    color: Colour
    fill: Colour
    font_size: int = Field(ge=4, le=1000)
    bold: bool = True
    align: Literal["left", "center", "right"] = "left"
    valign: Literal["top", "middle", "bottom"] = "middle"
    padding: int = Field(12, ge=0, le=200)
    radius: int = Field(10, ge=0, le=500)

    check_box = field_validator("box")(_check_box)


class Template(_Frozen):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    description: str
    layout: str = Field(min_length=1, max_length=64)
    size: tuple[int, int]
    background: Background
    shapes: tuple[Shape, ...] = ()
    product: ProductSlot
    headline: HeadlineStyle
    price: PriceStyle

    @field_validator("size")
    @classmethod
    def _size(cls, size: tuple[int, int]) -> tuple[int, int]:
        if not (16 <= size[0] <= 8192 and 16 <= size[1] <= 8192):
            raise ValueError("size must be [width, height], each 16..8192")
        return size

    @property
    def width(self) -> int:
        return self.size[0]

    @property
    def height(self) -> int:
        return self.size[1]


def parse_template(text: str, name: str = "<template>") -> Template:
    """One template from its JSON text; TemplateError names the file and the problem."""
    try:
        return Template.model_validate(json.loads(text))
    except (json.JSONDecodeError, ValidationError) as exc:
        raise TemplateError(f"{name}: {exc}") from exc


def load_templates(directory: Traversable | Path) -> dict[str, Template]:
    """Every `*.json` template in `directory`, by id (sorted)."""
    found: dict[str, Template] = {}
    for entry in sorted(directory.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        template = parse_template(entry.read_text(encoding="utf-8"), entry.name)
        if entry.name != f"{template.id}.json":
            raise TemplateError(f"{entry.name}: id {template.id!r} does not match the file name")
        found[template.id] = template
    if not found:
        raise TemplateError(f"no templates in {directory}")
    return found


@functools.cache
def load_catalogue() -> Mapping[str, Template]:
    """The built-in templates (package data), loaded and validated once per process."""
    return MappingProxyType(load_templates(importlib.resources.files("creativeloop.imagegen") / "templates"))
