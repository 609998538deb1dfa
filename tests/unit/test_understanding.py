"""Title tags and profile building."""

from __future__ import annotations

import pytest
from creativeloop.kit.codec import InvalidEvent
from creativeloop.understanding.profile import build_profile
from creativeloop.understanding.settings import UnderstandingSettings
from creativeloop.understanding.tags import extract_tags, title_terms
from creativeloop.v1 import common_pb2

SETTINGS = UnderstandingSettings()


def product(**fields: object) -> common_pb2.Product:
    base: dict[str, object] = {
        "product_id": "p1",
        "version": 3,
        "title": "Flowy Black Linen Dress",
        "category": "Dresses / Dresses",
        "attributes": {"material": "linen", "colour": "black"},
        "images": [common_pb2.Media(uri="file:///tmp/x.png", sha256="ab")],
    }
    base.update(fields)
    return common_pb2.Product(**base)  # type: ignore[arg-type]


def test_title_terms_drop_stopwords_duplicates_and_numbers() -> None:
    assert title_terms("The NEW soft, soft Knit Top for Women 2024") == ["soft", "knit", "top"]
    assert title_terms("纯棉 T恤 男款") == ["纯棉", "t恤", "男款"]


def test_corroborated_tags_rank_higher_and_keep_their_source() -> None:
    tags = extract_tags(product(), max_tags=10)
    by_text = {t.text: t for t in tags}
    assert by_text["linen"].confidence > by_text["flowy"].confidence  # title + attribute
    assert by_text["flowy"].source == common_pb2.TAG_SOURCE_TITLE
    assert by_text["dresses"].source == common_pb2.TAG_SOURCE_CATEGORY
    assert all(0 < t.confidence <= 1 for t in tags)
    assert len(extract_tags(product(), max_tags=2)) == 2


def test_profile_is_deterministic_and_keeps_media_by_reference() -> None:
    with_bytes = product(images=[common_pb2.Media(uri="file:///tmp/x.png", content=b"png")])
    first, second = build_profile(with_bytes, SETTINGS), build_profile(with_bytes, SETTINGS)
    assert first.SerializeToString(deterministic=True) == second.SerializeToString(deterministic=True)
    assert first.images[0].uri == "file:///tmp/x.png" and not first.images[0].content
    assert first.product_version == 3 and first.admission.admitted
    assert "linen" in first.selling_points


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"title": "   "}, "empty product.title"),
        ({"product_id": ""}, "missing product.product_id"),
        ({"title": "x" * 501}, "limit 500"),
        ({"images": [common_pb2.Media()]}, "neither uri nor content"),
        (
            {"images": [common_pb2.Media(content=b"x" * (SETTINGS.max_image_bytes + 1))]},
            "bytes, limit",
        ),
    ],
)
def test_bad_products_are_rejected_with_a_reason(fields: dict[str, object], reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        build_profile(product(**fields), SETTINGS)
