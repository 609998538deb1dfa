"""Profile building with the real models (embedded backend): tags, OCR, scene, product, admission."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from creativeloop.kit.codec import InvalidEvent
from creativeloop.kit.models.embedded import EmbeddedModelClient
from creativeloop.kit.settings import CommonSettings
from creativeloop.understanding.analyzer import StageTimer
from creativeloop.understanding.profile import ProfileBuilder
from creativeloop.understanding.settings import UnderstandingSettings
from creativeloop.v1 import common_pb2

REPOSITORY = Path(__file__).resolve().parents[2] / "deploy" / "model-repository"
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def product_shot(offset: int = 0) -> bytes:
    """A product (a dark rounded shape) off-centre on a plain light background."""
    canvas = Image.new("RGB", (480, 480), (242, 242, 238))
    draw = ImageDraw.Draw(canvas)
    draw.rounded_rectangle((60 + offset, 90, 260 + offset, 420), radius=40, fill=(40, 60, 120))
    return png(canvas)


def poster(text: str) -> bytes:
    canvas = Image.new("RGB", (640, 480), (250, 250, 250))
    draw = ImageDraw.Draw(canvas)
    draw.text((40, 60), text, fill=(10, 10, 10), font=ImageFont.truetype(FONT, 64))
    draw.text((40, 200), "FREE SHIPPING", fill=(200, 20, 20), font=ImageFont.truetype(FONT, 56))
    return png(canvas)


@pytest.fixture(scope="module")
def builder(tmp_path_factory: pytest.TempPathFactory) -> ProfileBuilder:
    settings = UnderstandingSettings(common=CommonSettings(asset_dir=tmp_path_factory.mktemp("assets")))
    return ProfileBuilder(settings, EmbeddedModelClient(REPOSITORY), REPOSITORY)


def product(**fields: object) -> common_pb2.Product:
    base: dict[str, object] = {
        "product_id": "p1",
        "version": 3,
        "title": "Flowy Black Linen Dress",
        "category": "Dresses",
        "attributes": {"material": "linen", "colour": "black"},
        "images": [common_pb2.Media(content=product_shot())],
        "reviews": [
            common_pb2.Review(text="Soft fabric and true to size. Love it!", rating=5),
            common_pb2.Review(text="The soft fabric is lovely, true to size.", rating=5),
        ],
    }
    base.update(fields)
    return common_pb2.Product(**base)  # type: ignore[arg-type]


def test_profile_carries_every_signal(builder: ProfileBuilder) -> None:
    timer = StageTimer()
    profile = builder.build(product(), timer)
    analysis = profile.image_analyses[0]
    assert analysis.width == 480 and analysis.sha256
    box = analysis.product_box
    assert 0.08 < box.x < 0.18 and 0.45 < box.x + box.width < 0.6  # the shape is at x 60..260 of 480
    assert analysis.product_mask.uri.startswith("file://")
    assert 0 <= analysis.aesthetic_score <= 100
    assert analysis.scene != common_pb2.SCENE_CLASS_UNSPECIFIED
    assert "edge_sharpness" in analysis.measurements
    texts = {t.text.lower() for t in profile.tags}
    assert {"linen", "dress"} <= texts
    assert any(len(t.evidence) > 1 for t in profile.tags)  # corroborated by several sources
    assert any("true to size" in p or "soft" in p for p in profile.selling_points)
    assert set(timer.seconds) >= {"ocr", "classifier", "scene", "product_box", "aesthetics"}
    assert profile.pipeline_version.startswith("analysis-")


def test_ocr_text_and_ad_law_reach_admission(builder: ProfileBuilder) -> None:
    profile = builder.build(
        product(title="国家级 最佳 连衣裙", images=[common_pb2.Media(content=poster("SUMMER SALE"))])
    )
    assert "SUMMER SALE" in profile.ocr_text and "FREE SHIPPING" in profile.ocr_text
    assert profile.image_analyses[0].text_area_ratio > 0
    assert not profile.admission.admitted
    assert any(code.startswith("ADLAW_") for code in profile.admission.reason_codes)
    assert [r.code for r in profile.admission.reasons] == list(profile.admission.reason_codes)


def test_same_version_same_profile_and_cache_skips_unchanged_images(builder: ProfileBuilder) -> None:
    first = builder.build(product())
    assert builder.analyzer is not None and builder.analyzer.cache is not None
    hits = builder.analyzer.cache.hits
    timer = StageTimer()
    second = builder.build(product(), timer)
    assert first.SerializeToString(deterministic=True) == second.SerializeToString(deterministic=True)
    assert builder.analyzer.cache.hits == hits + 1
    assert "ocr" not in timer.seconds  # nothing was analysed again


def truncated_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((200, 200, 3), 120, np.uint8)).save(buffer, format="JPEG")
    return buffer.getvalue()[:300]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"title": "   "}, "empty product.title"),
        ({"product_id": ""}, "missing product.product_id"),
        ({"title": "x" * 501}, "limit 500"),
        ({"images": [common_pb2.Media()]}, "neither uri nor content"),
        ({"images": [common_pb2.Media(content=b"not an image")]}, "images[0]: not a readable image"),
        ({"images": [common_pb2.Media(content=truncated_jpeg())]}, "images[0]: not a readable image"),
        ({"images": [common_pb2.Media(uri="file:///nonexistent/x.png")]}, "images[0]: cannot read"),
        ({"images": [common_pb2.Media(content=b"x" * (10 * 1024 * 1024 + 1))]}, "bytes, limit"),
    ],
)
def test_bad_products_are_rejected_with_a_reason(
    builder: ProfileBuilder, fields: dict[str, object], reason: str
) -> None:
    with pytest.raises(InvalidEvent, match=reason.replace("[", r"\[").replace("]", r"\]")):
        builder.build(product(**fields))


def test_images_over_the_pixel_limit_are_refused(tmp_path: Path) -> None:
    settings = UnderstandingSettings(max_image_pixels=10_000, common=CommonSettings(asset_dir=tmp_path))
    small = ProfileBuilder(settings, None, REPOSITORY)
    with pytest.raises(InvalidEvent, match="pixels, limit 10000"):
        small.build(product())
