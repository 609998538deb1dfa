"""The independent OCR set: deterministic, lines inside the picture, apart, in a reading order."""

from __future__ import annotations

import numpy as np
import pytest

from creativeloop.datasets.test_sets import ocr
from creativeloop.datasets.test_sets._media import MediaMissing
from creativeloop.datasets.test_sets._registry import committed

# centered, two_column, three_column, two_column_cjk, rotated, curved, price_tags
SUBSET = (0, 17, 26, 35, 41, 49, 75)


@pytest.fixture(scope="module")
def cases() -> list[ocr.OcrCase]:
    try:
        return ocr.build(SUBSET)
    except MediaMissing as exc:
        pytest.skip(str(exc))


def test_size() -> None:
    labels = committed("ocr")
    assert len(labels) == ocr.COUNT >= 80
    assert sum(1 for label in labels if label["layout"] in ocr.MULTI_COLUMN) >= 20


def test_deterministic_and_matches_committed(cases: list[ocr.OcrCase]) -> None:
    expected = committed("ocr")
    for case, twin in zip(cases, ocr.build(SUBSET), strict=True):
        assert np.array_equal(case.image, twin.image)
        want = expected[int(case.case_id[3:])]
        assert {k: v for k, v in want.items() if k != "sha1"} == case.to_label()


def test_lines_consistent(cases: list[ocr.OcrCase]) -> None:
    for case in cases:
        h, w = case.image.shape[:2]
        assert sorted(line.order for line in case.lines) == list(range(len(case.lines)))
        boxes = [line.box for line in case.lines]
        for i, (x, y, bw, bh) in enumerate(boxes):
            assert x > 0 and y > 0 and x + bw < w and y + bh < h and bw > 0 and bh >= 8
            for x2, y2, w2, h2 in boxes[i + 1 :]:
                assert x + bw <= x2 or x2 + w2 <= x or y + bh <= y2 or y2 + h2 <= y
        for line in case.lines:
            assert line.text.strip() == line.text and line.text
            assert len(line.quad) == 4
            assert all(-1 <= px <= w + 1 and -1 <= py <= h + 1 for px, py in line.quad)


def test_columns_read_column_by_column(cases: list[ocr.OcrCase]) -> None:
    for case in cases:
        if not case.multi_column:
            continue
        ordered = case.in_reading_order()
        blocks = [line.block for line in ordered if line.block > 0]
        # Each column is read to its end before the next begins, left to right.
        assert blocks == sorted(blocks) and len(set(blocks)) >= 2
        columns = {b: [line for line in ordered if line.block == b] for b in set(blocks)}
        first, second = columns[1], columns[2]
        # Rows sit at the same heights, so row-by-row reading would interleave the columns.
        assert abs(first[1].box[1] - second[1].box[1]) <= 2
        assert max(line.box[0] + line.box[2] for line in first) < min(line.box[0] for line in second)
