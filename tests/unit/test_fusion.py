"""Fusion of text and image tag evidence: noisy-OR ordering, label mapping, determinism."""

from __future__ import annotations

import math

import pytest

from creativeloop.understanding.fusion import (
    BROADER_FACTOR,
    FusedTag,
    canonical,
    fuse_tags,
    image_tags,
    noisy_or,
)
from creativeloop.understanding.text_tags import TagSource, TextTag, text_tags


def tag(text: str, source: TagSource, confidence: float) -> TextTag:
    return TextTag(text, source, confidence)


def by_text(tags: list[FusedTag]) -> dict[str, FusedTag]:
    return {t.text: t for t in tags}


def test_title_and_image_beat_either_alone() -> None:
    evidence = [
        tag("t-shirt", TagSource.TITLE, 0.9),
        tag("cotton", TagSource.TITLE, 0.9),
    ]
    fused = fuse_tags(evidence, [[("jersey, T-shirt, tee shirt", 0.5), ("sweatshirt", 0.95)]])
    tags = by_text(fused)
    assert fused[0].text == "t-shirt"
    assert tags["t-shirt"].confidence > tags["cotton"].confidence
    assert tags["t-shirt"].confidence > tags["sweatshirt"].confidence
    assert [s.source for s in tags["t-shirt"].sources] == [TagSource.TITLE, TagSource.IMAGE]
    assert tags["t-shirt"].confidence == pytest.approx(noisy_or([0.9, 0.8 * 0.5]), abs=1e-4)


def test_per_source_confidences_are_recorded_and_best_source_first() -> None:
    fused = fuse_tags(
        [
            tag("Linen", TagSource.ATTRIBUTE, 0.8),
            tag("linen", TagSource.TITLE, 0.85),
            tag("linen", TagSource.TITLE, 0.5),  # weaker duplicate from the same source
            tag("linen", TagSource.REVIEW, 0.4),
        ]
    )
    (linen,) = fused
    assert [(s.source, s.confidence) for s in linen.sources] == [
        (TagSource.TITLE, 0.85),
        (TagSource.ATTRIBUTE, 0.8),
        (TagSource.REVIEW, 0.4),
    ]
    assert linen.source == TagSource.TITLE
    assert linen.confidence == pytest.approx(1 - 0.15 * 0.2 * 0.6, abs=1e-4)


def test_broader_words_let_the_image_corroborate_the_title() -> None:
    fused = by_text(fuse_tags([tag("top", TagSource.TITLE, 0.9)], [[("jersey, T-shirt, tee shirt", 0.6)]]))
    assert {s.source for s in fused["top"].sources} == {TagSource.TITLE, TagSource.IMAGE}
    image = next(s for s in fused["top"].sources if s.source == TagSource.IMAGE)
    assert image.confidence == pytest.approx(0.8 * 0.6 * BROADER_FACTOR, abs=1e-4)


def test_image_labels_map_to_product_words_per_language() -> None:
    labels = [[("jean, blue jean, denim", 0.7), ("golden retriever", 0.2), ("purse", 0.01)]]
    en = {t.text: t.confidence for t in image_tags(labels)}
    assert en["jeans"] == pytest.approx(0.56)
    assert en["golden retriever"] == pytest.approx(0.8 * 0.2 * 0.5)  # unmapped: discounted
    assert "handbag" not in en  # under min_probability
    zh = [t.text for t in image_tags(labels, language="zh")]
    assert zh == ["牛仔裤"]


def test_chinese_title_and_mapped_image_fuse() -> None:
    evidence = text_tags("纯棉短袖T恤", "服饰 > 女装")
    fused = fuse_tags(evidence, [[("jersey, T-shirt, tee shirt", 0.6)]], language="zh")
    assert fused[0].text == "t恤"
    assert {s.source for s in fused[0].sources} == {TagSource.TITLE, TagSource.IMAGE}


def test_canonical_merges_spellings_and_plurals() -> None:
    assert canonical("Tees") == canonical("T-Shirt") == canonical("tshirt") == "t-shirt"
    assert canonical("Dresses") == "dress"
    assert canonical("knits") == "knit"
    assert canonical("Jeans") == "jeans"
    assert canonical("Sunglasses") == "sunglasses"
    assert canonical(" Colour ") == "color"


def test_fusion_is_deterministic_under_input_order() -> None:
    evidence = text_tags(
        "Flowy Black Linen Dress", "Dresses / Maxi", {"colour": "black", "material": "linen"}
    )
    labels = [[("gown", 0.4), ("abaya", 0.3)], [("gown", 0.6)]]
    first = fuse_tags(evidence, labels)
    assert fuse_tags(list(reversed(evidence)), list(reversed(labels))) == first
    confidences = [t.confidence for t in first]
    assert confidences == sorted(confidences, reverse=True)


def test_several_images_do_not_stack_as_independent_evidence() -> None:
    one = fuse_tags([], [[("cardigan", 0.5)]])
    three = fuse_tags([], [[("cardigan", 0.5)], [("cardigan", 0.5)], [("cardigan", 0.4)]])
    assert one[0].confidence == three[0].confidence == pytest.approx(0.4)


@pytest.mark.parametrize(
    "labels",
    [
        [],
        [[]],
        [[("", 0.9)]],
        [[("cardigan", math.nan)]],
        [[("cardigan", -1.0), ("cardigan", 7.0)]],
    ],
)
def test_empty_and_garbage_input(labels: list[list[tuple[str, float]]]) -> None:
    assert fuse_tags([], labels) == []
    assert fuse_tags([tag("", TagSource.TITLE, 0.9), tag("x", TagSource.TITLE, 0.0)], labels) == []


def test_noisy_or_bounds() -> None:
    assert noisy_or([]) == 0.0
    assert noisy_or([1.0, 0.3]) == 1.0
    assert noisy_or([0.5, 0.5]) == pytest.approx(0.75)
    assert noisy_or([2.0]) == 1.0 and noisy_or([-1.0]) == 0.0


def test_limit_keeps_the_best() -> None:
    evidence = [tag(f"w{i}", TagSource.REVIEW, 0.1 + i / 100) for i in range(30)]
    fused = fuse_tags(evidence, limit=5)
    assert [t.text for t in fused] == ["w29", "w28", "w27", "w26", "w25"]
