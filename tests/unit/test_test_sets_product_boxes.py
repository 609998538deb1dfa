"""The independent product-box test set: deterministic, consistent labels, matching labels/."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from creativeloop.cli.data import data
from creativeloop.datasets.test_sets import product_boxes
from creativeloop.datasets.test_sets._media import MediaMissing, box_of
from creativeloop.datasets.test_sets._registry import committed, records

SUBSET = (0, 13, 27, 38, 46, 57, 66, 76, 83, 90)


@pytest.fixture(scope="module")
def cases() -> list[product_boxes.ProductBoxCase]:
    try:
        return product_boxes.build(SUBSET)
    except MediaMissing as exc:
        pytest.skip(str(exc))


def test_size_and_scenarios() -> None:
    assert product_boxes.COUNT >= 60
    assert len(product_boxes.SCENARIOS) * product_boxes.PER_SCENARIO == product_boxes.COUNT


def test_deterministic(cases: list[product_boxes.ProductBoxCase]) -> None:
    again = product_boxes.build(SUBSET)
    for a, b in zip(cases, again, strict=True):
        assert np.array_equal(a.image, b.image)
        assert np.array_equal(a.mask, b.mask)
        assert a.label() == b.label()


def test_labels_consistent(cases: list[product_boxes.ProductBoxCase]) -> None:
    for case in cases:
        h, w = case.image.shape[:2]
        assert case.image.dtype == np.uint8 and case.image.shape[2] == 3
        assert case.mask.shape == (h, w) and case.mask.any()
        assert box_of(case.mask) == case.box
        assert not (case.visible_mask & ~case.mask).any()
        assert case.visible_mask.sum() > 0.5 * case.mask.sum()
        assert set(np.unique(case.mask_u8)) <= {0, 255}
        if "cropped" not in case.tags:
            x, y, bw, bh = case.box
            assert x > 0 and y > 0 and x + bw < w and y + bh < h
        if case.scenario in ("text_overlap", "badge", "text_badge_shadow"):
            assert case.has_text_overlay


def test_labels_match_committed() -> None:
    expected = committed("product_boxes")
    assert len(expected) == product_boxes.COUNT
    try:
        built = [r.label for r in records("product_boxes", indices=SUBSET[:4])]
    except MediaMissing as exc:
        pytest.skip(str(exc))
    for got in built:
        want = expected[int(got["id"][2:])]
        assert {k: v for k, v in got.items() if k != "sha1"} == {k: v for k, v in want.items() if k != "sha1"}


def test_the_cli_checks_the_set_against_its_committed_labels() -> None:
    result = CliRunner().invoke(data, ["test-sets", "check", "--set", "product_boxes"])
    assert result.exit_code == 0, result.output
    assert "product_boxes: 96 records, 0 label differences" in result.output
