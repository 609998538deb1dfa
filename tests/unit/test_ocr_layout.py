"""Reading order of multi-column ads and the ad-text clean-up after recognition (no models)."""

from __future__ import annotations

from creativeloop.understanding.ocr import OcrLine, clean_lines, merge_fragments
from creativeloop.understanding.reading_order import bounding_rect, reading_order


def rect_box(x0: float, y0: float, x1: float, y1: float) -> tuple[tuple[float, float], ...]:
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


def line(text: str, x0: float, y0: float, x1: float, y1: float, confidence: float = 0.99) -> OcrLine:
    return OcrLine(text, confidence, rect_box(x0, y0, x1, y1))  # type: ignore[arg-type]


def test_single_column_keeps_top_to_bottom_order() -> None:
    rects = [(10, 10, 300, 40), (10, 60, 200, 80), (10, 100, 250, 120)]
    assert reading_order(rects) == [0, 1, 2]


def test_two_columns_are_read_one_after_the_other_between_header_and_footer() -> None:
    rects = [
        (100, 10, 500, 50),  # 0 header across both columns
        (20, 80, 220, 100),  # 1 left column
        (380, 80, 560, 100),  # 2 right column
        (20, 120, 200, 140),  # 3 left
        (380, 120, 580, 140),  # 4 right
        (20, 160, 180, 180),  # 5 left
        (380, 160, 520, 180),  # 6 right
        (200, 230, 400, 260),  # 7 footer across
    ]
    assert reading_order(rects) == [0, 1, 3, 5, 2, 4, 6, 7]


def test_three_columns_with_unaligned_lines() -> None:
    rects = [
        (10, 100, 150, 120),
        (10, 130, 150, 150),
        (220, 105, 360, 125),
        (220, 140, 360, 160),
        (430, 98, 560, 118),
        (430, 127, 560, 147),
        (10, 160, 140, 180),
    ]
    assert reading_order(rects) == [0, 1, 6, 2, 3, 4, 5]


def test_a_longer_column_keeps_its_last_line_but_a_block_below_does_not_join() -> None:
    # Left column has one more line; a CTA far below on the left is a block of its own.
    rects = [
        (10, 10, 150, 30),
        (300, 10, 450, 30),
        (10, 40, 150, 60),
        (300, 40, 450, 60),
        (10, 70, 140, 90),
        (10, 200, 120, 225),
    ]
    assert reading_order(rects) == [0, 2, 4, 1, 3, 5]


def test_items_side_by_side_on_one_row_read_left_to_right() -> None:
    rects = [(10, 10, 400, 50), (10, 80, 100, 110), (200, 82, 300, 108), (380, 80, 480, 110)]
    assert reading_order(rects) == [0, 1, 2, 3]


def test_empty_and_single() -> None:
    assert reading_order([]) == []
    assert reading_order([(0, 0, 10, 10)]) == [0]
    assert bounding_rect(((3, 4), (10, 2), (11, 9), (2, 8))) == (2.0, 2.0, 11.0, 9.0)


def test_clean_lines_drops_icons_and_trims_bullets() -> None:
    lines = [
        line("●", 10, 10, 30, 30),
        line("★ Free returns", 10, 50, 150, 70),
        line("M", 200, 200, 260, 260, confidence=0.97),
        line("8", 300, 10, 320, 30, confidence=0.995),
        line("50% 0FF", 10, 100, 100, 120),
        line("Up to 70% 0ff", 10, 130, 160, 150),
    ]
    cleaned = clean_lines(lines)
    assert [c.text for c in cleaned] == ["Free returns", "8", "50% OFF", "Up to 70% Off"]
    trimmed = bounding_rect(cleaned[0].box)
    assert trimmed[0] > 10 and trimmed[2] == 150  # the star's share of the box is gone
    assert clean_lines([line("B2B0 $10", 0, 0, 80, 20)])[0].text == "B2B0 $10"  # not a word


def test_merge_fragments_joins_a_cut_line_but_not_columns_or_other_sizes() -> None:
    lines = [
        line("历", 10, 10, 40, 40),
        line("日爆款", 45, 10, 130, 40),  # the same line, cut by the detector
        line("Kids", 300, 12, 360, 40),  # the next column: too far
        line("small print", 140, 12, 200, 22),  # much smaller text
    ]
    merged = merge_fragments(lines)
    texts = sorted(m.text for m in merged)
    assert texts == sorted(["历日爆款", "Kids", "small print"])
    joined = next(m for m in merged if m.text == "历日爆款")
    assert bounding_rect(joined.box) == (10, 10, 130, 40)


def test_a_close_simplified_reading_wins_over_a_traditional_form() -> None:
    import numpy as np

    from creativeloop.understanding.ocr import chinese_classes, prefer_common

    characters = ["满", "减", "減", "5", "A"]
    rare, common = chinese_classes(characters)
    assert rare.tolist() == [False, False, True, False, False]
    assert common.tolist() == [True, True, False, False, False]
    steps = np.array(
        [[[0.9, 0.05, 0.03, 0.01, 0.01], [0.0, 0.45, 0.53, 0.01, 0.01], [0.0, 0.01, 0.98, 0.01, 0.0]]]
    )
    out = prefer_common(steps, rare, common, share=0.1)
    assert out[0].argmax(axis=1).tolist() == [0, 1, 2]  # 減 -> 减 where 减 was close; a sure 減 stays
    assert out[0, 1].max() == steps[0, 1].max()  # the step's confidence is unchanged
    assert np.array_equal(prefer_common(steps, rare, common, share=0.9)[0].argmax(axis=1), [0, 2, 2])
