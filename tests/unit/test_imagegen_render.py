"""Image templates and the renderer: layout, text fitting, encodings, decoding hostile input."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from creativeloop.imagegen.render import (
    Encoding,
    FontBook,
    ProductImage,
    Renderer,
    RenderRejected,
    decode_image,
    pixel_box,
    wrap,
)
from creativeloop.imagegen.templates import (
    Template,
    TemplateError,
    load_catalogue,
    load_templates,
    parse_template,
)
from PIL import Image

RENDERER = Renderer(FontBook.dejavu())
TEMPLATES = sorted(load_catalogue())
#: RGB of the test product: a colour no template uses.
PRODUCT_RGB = (10, 200, 30)
LONG = (
    "Flowy linen summer dress with pockets, adjustable straps, a smocked back, a tiered skirt "
    "and a relaxed fit that works from beach to dinner"
)


def encoded(pixels: npt.NDArray[np.uint8], image_format: str = "PNG", mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    image = Image.fromarray(pixels) if mode is None else Image.fromarray(pixels).convert(mode)
    image.save(buffer, format=image_format)
    return buffer.getvalue()


def product_bytes(width: int = 200, height: int = 300) -> bytes:
    return encoded(np.full((height, width, 3), PRODUCT_RGB, np.uint8))


def product() -> ProductImage:
    return decode_image(product_bytes(), max_bytes=10**7, max_pixels=10**8)


def rgb(content: bytes) -> npt.NDArray[Any]:
    return np.asarray(Image.open(io.BytesIO(content)).convert("RGB")).astype(np.int16)


def raw_json(template_id: str) -> dict[str, Any]:
    path = Path(__file__).resolve().parents[2] / "services" / "imagegen" / "templates" / f"{template_id}.json"
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def test_catalogue_has_the_documented_templates() -> None:
    assert {"split-left", "hero-bottom"} <= set(TEMPLATES)
    assert load_catalogue() is load_catalogue(), "loaded once"
    for template_id in TEMPLATES:
        template = load_catalogue()[template_id]
        assert template.id == template_id and template.size == (800, 800) and template.layout


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda t: t["product"].update(box=[0.9, 0.0, 0.5, 0.5]), "reaches outside the canvas"),
        (lambda t: t["headline"].update(color="red"), "String should match pattern"),
        (lambda t: t["headline"].update(font_size=[10, 40]), "largest, smallest"),
        (
            lambda t: t.update(background={"color": "#ffffff", "gradient": ["#000000", "#ffffff"]}),
            "exactly one",
        ),
        (lambda t: t.pop("price"), "price"),
        (lambda t: t.update(colour="#ffffff"), "Extra inputs are not permitted"),
        (lambda t: t.update(size=[0, 800]), "size must be"),
    ],
)
def test_bad_templates_are_refused_with_the_file_named(change: Any, problem: str) -> None:
    template = raw_json("split-left")
    change(template)
    with pytest.raises(TemplateError, match=r"bad\.json") as error:
        parse_template(json.dumps(template), "bad.json")
    assert problem in str(error.value)
    with pytest.raises(TemplateError, match=r"bad\.json"):
        parse_template("{not json", "bad.json")


def test_template_ids_must_match_file_names(tmp_path: Path) -> None:
    (tmp_path / "other-name.json").write_text(json.dumps(raw_json("split-left")))
    with pytest.raises(TemplateError, match="does not match the file name"):
        load_templates(tmp_path)
    (tmp_path / "other-name.json").unlink()
    with pytest.raises(TemplateError, match="no templates"):
        load_templates(tmp_path)


@pytest.mark.parametrize("template_id", TEMPLATES)
@pytest.mark.parametrize(("encoding", "image_format"), [("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WEBP")])
def test_every_template_renders_in_every_encoding(
    template_id: str, encoding: Encoding, image_format: str
) -> None:
    rendered = RENDERER.render(
        template_id, product(), "Flowy Linen Summer Dress", "$59.99", encoding=encoding
    )
    image = Image.open(io.BytesIO(rendered.content))
    assert image.format == image_format and image.size == (800, 800)
    assert (rendered.width, rendered.height, rendered.template_id) == (800, 800, template_id)
    assert rendered.mime_type == f"image/{encoding}"
    template = load_catalogue()[template_id]
    assert rendered.attributes["template"] == template_id
    assert rendered.attributes["layout"] == template.layout
    assert rendered.attributes["background"] == template.background.main_colour
    assert rendered.attributes["background"].startswith("#")


@pytest.mark.parametrize("template_id", TEMPLATES)
def test_the_product_fills_its_region_and_stays_inside_it(template_id: str) -> None:
    template = load_catalogue()[template_id]
    pixels = rgb(RENDERER.render(template_id, product(), "Headline", "$5").content)
    is_product = np.all(np.abs(pixels - np.array(PRODUCT_RGB)) <= 2, axis=2)
    x, y, w, h = pixel_box(template.product.box, 800, 800)
    assert is_product[y + h // 2, x + w // 2], "the product is centred in its region"
    ys, xs = np.nonzero(is_product)
    assert xs.min() >= x and xs.max() < x + w and ys.min() >= y and ys.max() < y + h
    # 200x300 fitted into w x h keeps its aspect ratio and touches two sides of the region.
    scale = min(w / 200, h / 300)
    assert abs((xs.max() - xs.min() + 1) - 200 * scale) <= 2
    assert abs((ys.max() - ys.min() + 1) - 300 * scale) <= 2


@pytest.mark.parametrize("template_id", TEMPLATES)
@pytest.mark.parametrize(
    "headline", ["Linen dress", LONG, LONG * 3, "纯棉短袖T恤男款夏季宽松上衣，到手价¥89"]
)
def test_headline_is_drawn_only_inside_its_region(template_id: str, headline: str) -> None:
    template = load_catalogue()[template_id]
    plain = RENDERER.compose(template, product(), "", "").canvas.astype(np.int16)
    composed = RENDERER.compose(template, product(), headline, "")
    changed = np.any(composed.canvas.astype(np.int16) != plain, axis=2)
    assert changed.any(), "the headline was drawn"
    x, y, w, h = pixel_box(template.headline.box, 800, 800)
    outside = changed.copy()
    outside[y : y + h, x : x + w] = False
    assert not outside.any(), "headline pixels outside the headline region"
    assert 1 <= composed.headline_lines <= template.headline.max_lines
    assert template.headline.font_size[1] <= composed.headline_size <= template.headline.font_size[0]


def test_long_headlines_shrink_and_short_ones_stay_large() -> None:
    template = load_catalogue()["split-left"]
    short = RENDERER.compose(template, product(), "Linen", "")
    long = RENDERER.compose(template, product(), LONG * 3, "")
    assert short.headline_size == template.headline.font_size[0]
    assert long.headline_size == template.headline.font_size[1]
    assert long.headline_lines == template.headline.max_lines


def test_price_tag_is_drawn_in_its_region() -> None:
    template = load_catalogue()["hero-bottom"]
    plain = RENDERER.compose(template, product(), "", "").canvas
    priced = RENDERER.compose(template, product(), "", "$1,299.99").canvas
    changed = np.any(priced != plain, axis=2)
    x, y, w, h = pixel_box(template.price.box, 800, 800)
    assert changed[y : y + h, x : x + w].sum() > 1000
    changed[y : y + h, x : x + w] = False
    assert not changed.any()


@pytest.mark.parametrize(
    ("width", "height", "size"),
    [(400, 0, (400, 400)), (0, 1200, (1200, 1200)), (1200, 628, (1200, 628)), (64, 64, (64, 64))],
)
def test_canvas_sizes(width: int, height: int, size: tuple[int, int]) -> None:
    rendered = RENDERER.render("split-left", product(), LONG, "$59.99", width=width, height=height)
    assert Image.open(io.BytesIO(rendered.content)).size == size == (rendered.width, rendered.height)


@pytest.mark.parametrize(
    ("template_id", "width", "height", "reason"),
    [
        ("no-such-template", 0, 0, "unknown template 'no-such-template'"),
        ("split-left", 5000, 0, "canvas 5000x5000 outside 64..4096"),
        ("split-left", 800, 10, "canvas 800x10 outside"),
        ("split-left", -1, 0, "negative canvas size"),
    ],
)
def test_render_rejections(template_id: str, width: int, height: int, reason: str) -> None:
    with pytest.raises(RenderRejected) as error:
        RENDERER.render(template_id, product(), "x", width=width, height=height)
    assert reason in error.value.reason


def test_transparent_products_are_blended_onto_the_background() -> None:
    rgba = np.zeros((300, 300, 4), np.uint8)
    rgba[100:200, 100:200] = (*PRODUCT_RGB, 255)  # opaque square in a transparent frame
    image = decode_image(encoded(rgba), max_bytes=10**7, max_pixels=10**8)
    assert image.alpha is not None
    template = load_catalogue()["hero-bottom"]
    pixels = rgb(RENDERER.render("hero-bottom", image, "", "").content)
    x, y, w, h = pixel_box(template.product.box, 800, 800)
    background = tuple(int(template.background.color[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[index]
    assert tuple(pixels[y + 5, x + w // 2]) == background  # transparent corner shows the background
    assert tuple(pixels[y + h // 2, x + w // 2]) == PRODUCT_RGB


def test_decoding_normalises_formats() -> None:
    grey = np.linspace(0, 255, 64 * 64, dtype=np.uint8).reshape(64, 64)
    for data in (
        encoded(grey),
        encoded(np.full((64, 64, 3), 90, np.uint8), "JPEG"),
        encoded(np.full((64, 64, 3), 90, np.uint8), "WEBP"),
        encoded(np.full((64, 64, 3), 90, np.uint8), "GIF"),
        encoded(np.full((64, 64, 3), 90, np.uint8), "PNG", mode="LA"),
    ):
        image = decode_image(data, max_bytes=10**7, max_pixels=10**8)
        assert image.bgr.shape == (64, 64, 3) and image.bgr.dtype == np.uint8
    sixteen = io.BytesIO()
    Image.fromarray(np.full((32, 32), 40000, np.uint16)).save(sixteen, format="PNG")
    deep = decode_image(sixteen.getvalue(), max_bytes=10**7, max_pixels=10**8)
    assert deep.bgr.dtype == np.uint8 and 150 <= int(deep.bgr[0, 0, 0]) <= 160


@pytest.mark.parametrize(
    ("data", "limits", "reason"),
    [
        (b"", {}, "empty product image"),
        (b"\x89PNG\r\n\x1a\n" + b"garbage" * 20, {}, "undecodable product image"),
        (b"GIF89 not really", {}, "undecodable product image"),
        (product_bytes()[:120], {}, "undecodable product image"),
        (product_bytes(), {"max_bytes": 100}, "bytes, limit 100"),
        (product_bytes(), {"max_pixels": 1000}, "200x300 pixels, limit 1000"),
        (encoded(np.zeros((8, 8, 3), np.uint8), "ICO"), {}, "unsupported product image format ICO"),
    ],
)
def test_hostile_images_are_rejected_with_a_reason(data: bytes, limits: dict[str, int], reason: str) -> None:
    options = {"max_bytes": 10**7, "max_pixels": 10**8, **limits}
    with pytest.raises(RenderRejected) as error:
        decode_image(data, **options)
    assert reason in error.value.reason


def test_missing_fonts_fall_back_to_pillows_default() -> None:
    fonts = FontBook(Path("/nonexistent/regular.ttf"), Path("/nonexistent/bold.ttf"))
    assert fonts.missing == ["/nonexistent/regular.ttf", "/nonexistent/bold.ttf"]
    rendered = Renderer(fonts).render("hero-bottom", product(), "Still renders", "$1")
    assert Image.open(io.BytesIO(rendered.content)).size == (800, 800)


def test_wrapping() -> None:
    def measure(text: str) -> float:
        return float(len(text))

    assert wrap("one two three four", measure, 9) == ["one two", "three", "four"]
    assert wrap("abcdefghij", measure, 4) == ["abcd", "efgh", "ij"]  # an over-long word is broken
    assert wrap("纯棉短袖T恤", measure, 2) == ["纯棉", "短袖", "T恤"]
    assert wrap("  spaced   out  ", measure, 20) == ["spaced out"]


def test_shrunk_products_keep_their_aspect_ratio() -> None:
    big = ProductImage(np.zeros((1000, 3000, 3), np.uint8), np.full((1000, 3000), 128, np.uint8))
    small = big.shrunk(600)
    assert small.bgr.shape == (200, 600, 3) and small.alpha is not None and small.alpha.shape == (200, 600)
    assert big.shrunk(5000) is big


def test_templates_are_frozen() -> None:
    template: Template = load_catalogue()["split-left"]
    with pytest.raises(Exception, match="frozen"):
        template.layout = "other"  # type: ignore[misc]
