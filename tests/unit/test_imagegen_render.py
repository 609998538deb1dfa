"""Image templates and the renderer: format validation, content-aware layout, contrast, CJK
breaking, sizes, encodings, decoding hostile input."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from creativeloop.imagegen.colour import DARK_INK, LIGHT_INK, backdrop_range, worst_contrast
from creativeloop.imagegen.cutout import make_cutout
from creativeloop.imagegen.layout import Rect
from creativeloop.imagegen.render import (
    Copy,
    Cutout,
    Encoding,
    FontBook,
    ProductImage,
    Renderer,
    RenderRejected,
    decode_image,
)
from creativeloop.imagegen.templates import (
    SIZES,
    Template,
    TemplateError,
    load_catalogue,
    load_templates,
    parse_template,
)
from creativeloop.imagegen.text import wrap

RENDERER = Renderer(FontBook.default())
TEMPLATES = sorted(load_catalogue())
PRODUCT_RGB = (10, 200, 30)
LONG = (
    "Flowy linen summer dress with pockets, adjustable straps, a smocked back, a tiered skirt "
    "and a relaxed fit that works from beach to dinner"
)
CJK = "纯棉短袖T恤男款夏季宽松上衣，到手价¥89"


def encoded(pixels: npt.NDArray[Any], image_format: str = "PNG", mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    image = Image.fromarray(pixels) if mode is None else Image.fromarray(pixels).convert(mode)
    image.save(buffer, format=image_format)
    return buffer.getvalue()


def product_bytes(width: int = 200, height: int = 300) -> bytes:
    return encoded(np.full((height, width, 3), PRODUCT_RGB, np.uint8))


def product() -> ProductImage:
    return decode_image(product_bytes(), max_bytes=10**7, max_pixels=10**8)


def shape_cutout(width: int, height: int, frame: tuple[int, int] | None = None) -> Cutout:
    """A transparent PNG with an opaque product of width x height (optionally off-centre in a
    bigger frame, with a confident mask)."""
    if frame is None:
        rgba = np.zeros((height, width, 4), np.uint8)
        rgba[:] = (*PRODUCT_RGB, 255)
        return make_cutout(decode_image(encoded(rgba), max_bytes=10**8, max_pixels=10**8))
    picture = np.full((frame[1], frame[0], 3), 240, np.uint8)
    picture[20 : 20 + height, 10 : 10 + width] = PRODUCT_RGB  # top-left corner: off-centre
    mask = np.zeros(picture.shape[:2], np.uint8)
    mask[20 : 20 + height, 10 : 10 + width] = 255
    image = decode_image(encoded(picture), max_bytes=10**8, max_pixels=10**8)
    return make_cutout(image, mask, 0.9)


def raw_json(template_id: str) -> dict[str, Any]:
    templates = Path(__file__).resolve().parents[2] / "services" / "creativeloop" / "imagegen" / "templates"
    path = templates / f"{template_id}.json"
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


# ------------------------------------------------------------------ the format


def test_catalogue_has_versioned_templates_for_every_size() -> None:
    assert {"split-left", "hero-bottom", "headline-top", "soft-focus", "studio-glow"} <= set(TEMPLATES)
    assert load_catalogue() is load_catalogue(), "loaded once"
    kinds = {load_catalogue()[t].background.kind for t in TEMPLATES}
    assert kinds == {"solid", "gradient", "blur", "harmonised", "generated"}
    for template_id in TEMPLATES:
        template = load_catalogue()[template_id]
        assert template.format_version == 2 and template.id == template_id
        assert set(template.sizes) == set(SIZES) and template.min_contrast >= 4.5


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda t: t.update(format_version=1), "format_version 1 is not supported: this build reads 2"),
        (lambda t: t.pop("format_version"), "format_version None is not supported"),
        (lambda t: t["product"].update(area=[0.9, 0.0, 0.5, 0.5]), "product.area: Value error, box"),
        (lambda t: t["text"]["headline"].update(color="red"), "text.headline.color"),
        (lambda t: t["text"]["headline"].update(font_size=[10, 40]), "largest, smallest"),
        (lambda t: t.update(background={"kind": "plaid"}), "background: Input tag 'plaid'"),
        (lambda t: t.update(sizes=["1:1", "2:1"]), "each must be one of"),
        (lambda t: t.update(min_contrast=3.0), "min_contrast: Input should be greater than or equal to 4.5"),
        (lambda t: t["text"].update(prefer=["right", "right"]), "distinct regions"),
        (lambda t: t.update(colour="#ffffff"), "colour: Extra inputs are not permitted"),
        (lambda t: t["text"].pop("headline"), "text.headline: Field required"),
    ],
)
def test_bad_templates_are_refused_with_the_file_and_field_named(change: Any, problem: str) -> None:
    template = raw_json("split-left")
    change(template)
    with pytest.raises(TemplateError, match=r"^bad\.json: ") as error:
        parse_template(json.dumps(template), "bad.json")
    assert problem in str(error.value)
    with pytest.raises(TemplateError, match=r"bad\.json: not JSON"):
        parse_template("{not json", "bad.json")


def test_template_ids_files_and_logo_assets_must_match(tmp_path: Path) -> None:
    (tmp_path / "other-name.json").write_text(json.dumps(raw_json("split-left")))
    with pytest.raises(TemplateError, match="does not match the file name"):
        load_templates(tmp_path)
    (tmp_path / "other-name.json").unlink()
    (tmp_path / "hero-bottom.json").write_text(json.dumps(raw_json("hero-bottom")))
    with pytest.raises(TemplateError, match=r"logo asset 'creativeloop-mark\.png' not in assets/"):
        load_templates(tmp_path)
    (tmp_path / "hero-bottom.json").unlink()
    with pytest.raises(TemplateError, match="no templates"):
        load_templates(tmp_path)


def test_templates_are_frozen() -> None:
    template: Template = load_catalogue()["split-left"]
    with pytest.raises(Exception, match="frozen"):
        template.layout = "other"  # type: ignore[misc]


# ------------------------------------------------------------------ sizes and encodings


@pytest.mark.parametrize("template_id", TEMPLATES)
@pytest.mark.parametrize("size", list(SIZES))
def test_every_template_renders_every_size(template_id: str, size: str) -> None:
    rendered = RENDERER.render(template_id, product(), "Flowy Linen Summer Dress", "$59.99", size=size)
    image = Image.open(io.BytesIO(rendered.content))
    assert image.size == SIZES[size] == (rendered.width, rendered.height)
    assert rendered.size == size == rendered.attributes["size"] == rendered.attributes["aspect"]
    attributes = rendered.attributes
    assert attributes["template"] == template_id
    assert attributes["background_kind"] == load_catalogue()[template_id].background.kind
    assert attributes["background"].startswith("#") and attributes["text_color"].startswith("#")
    assert attributes["layout_region"] in {"left", "right", "top", "bottom"}
    assert float(attributes["min_text_contrast"]) >= 4.5


@pytest.mark.parametrize(("encoding", "image_format"), [("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WEBP")])
def test_output_formats_decode(encoding: Encoding, image_format: str) -> None:
    rendered = RENDERER.render("split-left", product(), "Linen", "$5", encoding=encoding, size="9:16")
    image = Image.open(io.BytesIO(rendered.content))
    image.load()
    assert image.format == image_format and image.size == (720, 1280)
    assert rendered.mime_type == f"image/{encoding}"


@pytest.mark.parametrize(
    ("width", "height", "size"),
    [(400, 0, (400, 400)), (0, 1200, (1200, 1200)), (1200, 628, (1200, 628)), (64, 64, (64, 64))],
)
def test_custom_canvas_sizes(width: int, height: int, size: tuple[int, int]) -> None:
    rendered = RENDERER.render("split-left", product(), LONG, "$59.99", width=width, height=height)
    assert Image.open(io.BytesIO(rendered.content)).size == size == (rendered.width, rendered.height)


@pytest.mark.parametrize(
    ("template_id", "kwargs", "reason"),
    [
        ("no-such-template", {}, "unknown template 'no-such-template'"),
        ("split-left", {"size": "2:1"}, "unknown size '2:1'"),
        ("split-left", {"size": "1:1", "width": 500}, "not both"),
        ("split-left", {"width": 5000}, "canvas 5000x5000 outside 64..4096"),
        ("split-left", {"width": 800, "height": 10}, "canvas 800x10 outside"),
        ("split-left", {"width": -1}, "negative canvas size"),
    ],
)
def test_render_rejections(template_id: str, kwargs: dict[str, Any], reason: str) -> None:
    with pytest.raises(RenderRejected) as error:
        RENDERER.render(template_id, product(), "x", **kwargs)
    assert reason in error.value.reason


def test_a_size_the_template_does_not_offer_is_refused() -> None:
    narrow = load_catalogue()["split-left"].model_copy(update={"sizes": ("1:1",)})
    renderer = Renderer(FontBook.default(), {"split-left": narrow})
    with pytest.raises(RenderRejected, match=r"does not offer size '9:16' \(it offers 1:1\)"):
        renderer.render("split-left", product(), "x", size="9:16")


# ------------------------------------------------------------------ layout


def _text_rects(template_id: str, cutout: Cutout, size: str, headline: str = LONG) -> tuple[Any, list[Rect]]:
    template = load_catalogue()[template_id]
    width, height = SIZES[size]
    composed = RENDERER.compose(template, cutout, Copy(headline, "$59.99", "Breathable linen"), width, height)
    return composed, [e.rect for e in composed.elements if e.kind != "logo"]


@pytest.mark.parametrize("template_id", TEMPLATES)
@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize(
    "shape", [(120, 600, None), (700, 140, None), (300, 300, None), (160, 420, (900, 700))], ids=str
)
def test_text_keeps_off_the_product_for_tall_wide_and_off_centre_products(
    template_id: str, size: str, shape: tuple[int, int, tuple[int, int] | None]
) -> None:
    cutout = shape_cutout(*shape)
    composed, rects = _text_rects(template_id, cutout, size)
    plan = composed.plan
    assert rects, "text was drawn"
    safe = plan.safe
    for rect in rects:
        assert not rect.intersects(plan.product_box), f"{rect} over the product {plan.product_box}"
        assert safe.contains(rect), f"{rect} outside the safe area {safe}"
    # The product's own pixels are where the plan says: check on the canvas.
    is_product = np.all(np.abs(composed.canvas.astype(np.int16) - np.array(PRODUCT_RGB[::-1])) <= 3, axis=2)
    ys, xs = np.nonzero(is_product)
    box = plan.product_box
    assert xs.min() >= box.x - 1 and xs.max() <= box.x1 and ys.min() >= box.y - 1 and ys.max() <= box.y1


def test_wide_products_get_text_above_or_below_and_tall_ones_beside() -> None:
    wide, _ = _text_rects("hero-bottom", shape_cutout(700, 120), "1:1")
    tall, _ = _text_rects("split-left", shape_cutout(120, 600), "1:1")
    assert wide.plan.region_name in {"top", "bottom"}
    assert tall.plan.region_name in {"left", "right"}


def test_a_weak_mask_falls_back_to_the_whole_picture_and_text_still_avoids_the_product() -> None:
    picture = np.full((600, 900, 3), 235, np.uint8)
    picture[50:550, 40:300] = PRODUCT_RGB
    image = decode_image(encoded(picture), max_bytes=10**8, max_pixels=10**8)
    mask = np.zeros((600, 900), np.uint8)
    mask[50:550, 40:300] = 255
    weak = make_cutout(image, mask, 0.2, min_confidence=0.5, box=(40 / 900, 50 / 600, 260 / 900, 500 / 600))
    assert weak.kind == "picture" and weak.size == (900, 600)
    strong = make_cutout(image, mask, 0.9, min_confidence=0.5)
    assert strong.kind == "cutout" and strong.size[0] < 300
    composed, rects = _text_rects("hero-bottom", weak, "1:1")
    assert composed.attributes["product_placement"] == "picture"
    for rect in rects:
        assert not rect.intersects(composed.plan.product_box)


# ------------------------------------------------------------------ contrast


@pytest.mark.parametrize(
    ("background", "ink"),
    [({"kind": "solid", "color": "#101010"}, LIGHT_INK), ({"kind": "solid", "color": "#fafafa"}, DARK_INK)],
)
def test_text_colour_is_picked_for_contrast(background: dict[str, str], ink: tuple[int, int, int]) -> None:
    raw = raw_json("split-left")
    raw["background"] = background
    template = parse_template(json.dumps(raw))
    composed = RENDERER.compose(template, make_cutout(product()), Copy("Linen dress"), 800, 800)
    headline = next(e for e in composed.elements if e.kind == "headline")
    assert headline.ink == ink and headline.scrim == "none" and headline.contrast >= 4.5


def test_a_busy_backdrop_gets_a_scrim_that_reaches_the_minimum() -> None:
    raw = raw_json("soft-focus")
    raw["background"] = {"kind": "gradient", "colors": ["#000000", "#ffffff"], "direction": "horizontal"}
    template = parse_template(json.dumps(raw))
    composed = RENDERER.compose(template, shape_cutout(700, 140), Copy(LONG), 800, 800, keep_backdrop=True)
    headline = next(e for e in composed.elements if e.kind == "headline")
    assert headline.scrim in {"dark", "light"}
    rect = headline.rect
    after = backdrop_range(composed.canvas[rect.y : rect.y1, rect.x : rect.x1])
    assert headline.ink is not None
    before = composed.backdrop
    assert before is not None
    assert worst_contrast(headline.ink, backdrop_range(before[rect.y : rect.y1, rect.x : rect.x1])) < 4.5
    assert headline.contrast >= 4.5 and after[1] - after[0] >= 0  # measured after the scrim


# ------------------------------------------------------------------ text


def test_cjk_headlines_render_with_a_cjk_font_and_break_per_character() -> None:
    composed, _ = _text_rects("split-left", shape_cutout(200, 300), "1:1", CJK)
    headline = next(e for e in composed.elements if e.kind == "headline")
    lines = headline.text.split("\n")
    assert len(lines) >= 2 and "".join(lines) == CJK.replace(" ", "")
    assert all(not line.startswith(("，", "。")) for line in lines)
    assert not any(line.endswith("¥") for line in lines)
    font = RENDERER.fonts.get(30, cjk=True)
    assert font.getbbox("纯")[2] > 10, "a real CJK glyph, not a missing-glyph box"


def test_line_breaking() -> None:
    def measure(text: str) -> float:
        return float(len(text))

    assert wrap("one two three four", measure, 9) == ["one two", "three", "four"]
    assert wrap("abcdefghij", measure, 4) == ["abcd", "efgh", "ij"]
    assert wrap("纯棉短袖T恤", measure, 2) == ["纯棉", "短袖", "T恤"]
    assert wrap("  spaced   out  ", measure, 20) == ["spaced out"]
    # kinsoku-lite: no line starts with a closing mark or ends with an opening one / currency
    assert wrap("纯棉短袖，夏季", measure, 4) == ["纯棉短", "袖，夏季"]
    assert wrap("到手价¥89元", measure, 4) == ["到手价", "¥89元"]
    assert wrap("（限时）特价", measure, 3) == ["（限", "时）特", "价"]


def test_long_headlines_shrink_and_end_in_an_ellipsis() -> None:
    template = load_catalogue()["split-left"]
    cutout = make_cutout(product())
    short = RENDERER.compose(template, cutout, Copy("Linen"), 800, 800)
    long = RENDERER.compose(template, cutout, Copy(LONG * 3), 800, 800)
    short_line = next(e for e in short.elements if e.kind == "headline")
    long_line = next(e for e in long.elements if e.kind == "headline")
    assert short_line.rect.h < long_line.rect.h
    assert long_line.text.endswith("…")
    assert long_line.text.count("\n") + 1 <= template.text.headline.max_lines


def test_badge_and_logo_avoid_the_product_and_the_text() -> None:
    composed, _ = _text_rects("split-left", shape_cutout(200, 300), "1:1")
    badge = next(e for e in composed.elements if e.kind == "badge")
    assert badge.text == "NEW" and badge.contrast >= 4.5
    assert not badge.rect.intersects(composed.plan.product_box)
    overridden = RENDERER.compose(
        load_catalogue()["split-left"], make_cutout(product()), Copy("x", badge="-20%"), 800, 800
    )
    assert overridden.attributes["badge"] == "-20%"
    hidden = RENDERER.compose(
        load_catalogue()["split-left"], make_cutout(product()), Copy("x", badge=""), 800, 800
    )
    assert hidden.attributes["badge"] == ""
    logo = RENDERER.compose(load_catalogue()["hero-bottom"], make_cutout(product()), Copy("Linen"), 800, 800)
    assert logo.attributes["logo"] == "yes"


# ------------------------------------------------------------------ product pictures


def test_transparent_products_are_blended_onto_the_background() -> None:
    rgba = np.zeros((300, 300, 4), np.uint8)
    rgba[100:200, 100:200] = (*PRODUCT_RGB, 255)
    image = decode_image(encoded(rgba), max_bytes=10**7, max_pixels=10**8)
    cutout = make_cutout(image)
    assert cutout.kind == "transparent" and cutout.size[0] < 150, "cropped to the opaque part"
    composed = RENDERER.compose(load_catalogue()["hero-bottom"], cutout, Copy(""), 800, 800)
    box = composed.plan.product_box
    centre = composed.canvas[box.y + box.h // 2, box.x + box.w // 2]
    assert tuple(int(v) for v in centre[::-1]) == PRODUCT_RGB


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
        assert image.bgr.shape == (64, 64, 3) and image.bgr.dtype == np.uint8 and len(image.key) == 64
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


def test_shrunk_products_keep_their_aspect_ratio_and_key() -> None:
    big = ProductImage(np.zeros((1000, 3000, 3), np.uint8), np.full((1000, 3000), 128, np.uint8), "k")
    small = big.shrunk(600)
    assert small.bgr.shape == (200, 600, 3) and small.alpha is not None and small.alpha.shape == (200, 600)
    assert small.key == "k" and big.shrunk(5000) is big


def test_renders_are_deterministic_and_caches_are_used() -> None:
    first = RENDERER.render("soft-focus", product(), "Linen", "$5", size="4:3", encoding="png").content
    hits = RENDERER.backgrounds.hits
    second = RENDERER.render("soft-focus", product(), "Linen", "$5", size="4:3", encoding="png").content
    assert first == second and RENDERER.backgrounds.hits > hits
    decoded = cv2.imdecode(np.frombuffer(first, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None and decoded.shape == (600, 800, 3)
