"""Main-product location on composited pictures whose true masks are known."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from creativeloop.datasets.cutouts import Case, build_cases
from creativeloop.evaluation.product_box import box_iou, mask_iou, true_box
from creativeloop.understanding.product_box import (
    decode_image,
    encode_mask_png,
    locate_product,
    locate_product_bytes,
)

PLACEMENTS = ("off_centre", "tall", "wide")


def _cases(cutouts: tuple[str, ...], backgrounds: tuple[str, ...]) -> list[Case]:
    # PyPI-only sources (drawn garments, scikit-image / scikit-learn pictures): no apt package needed.
    return list(build_cases(cutouts, backgrounds=backgrounds, placements=PLACEMENTS, seed=11, pypi_only=True))


@pytest.mark.parametrize("background", ["plain", "texture"])
def test_box_and_mask_found_off_centre_tall_and_wide(background: str) -> None:
    for case in _cases(("dress", "jeans", "skirt"), (background,)):
        found = locate_product(case.image)
        iou = mask_iou(found.mask, case.mask)
        label = f"{case.cutout}/{case.background}/{case.placement}"
        assert iou >= 0.7, f"{label}: mask IoU {iou:.2f}"
        assert box_iou(found.box, true_box(case.mask)) >= 0.7, label
        assert found.confidence > 0.25, label


def test_photo_background_mostly_found() -> None:
    cases = _cases(("jeans", "dress"), ("photo",))
    ious = [mask_iou(locate_product(c.image).mask, c.mask) for c in cases]
    assert float(np.mean(ious)) >= 0.6, ious


def test_box_follows_the_product_not_the_centre() -> None:
    (case,) = list(build_cases(("jeans",), backgrounds=("plain",), placements=("off_centre",), seed=3))
    found = locate_product(case.image)
    x, y, w, h = found.box_normalised
    tx, ty, tw, th = true_box(case.mask)
    height, width = case.mask.shape
    assert abs((x + w / 2) - (tx + tw / 2) / width) < 0.05
    assert abs((y + h / 2) - (ty + th / 2) / height) < 0.05
    assert abs((x + w / 2) - 0.5) > 0.1  # really off-centre


def test_mask_is_usable_for_a_cutout() -> None:
    (case,) = list(build_cases(("skirt",), backgrounds=("plain",), placements=("tall",), seed=5))
    found = locate_product(case.image)
    assert found.mask.shape == case.image.shape[:2]
    assert found.mask.dtype == np.uint8
    assert set(np.unique(found.mask)) <= {0, 255}
    x, y, w, h = found.box
    assert min(x, y) >= 0 and x + w <= found.image_width and y + h <= found.image_height
    assert all(0.0 <= v <= 1.0 for v in found.box_normalised)
    # PNG round trip keeps the mask exactly; the cut-out is BGRA, cropped to the box.
    png = cv2.imdecode(np.frombuffer(found.mask_png(), np.uint8), cv2.IMREAD_UNCHANGED)
    assert png is not None and np.array_equal(png, found.mask)
    cutout = found.cutout_rgba(case.image)
    assert cutout.shape == (h, w, 4)
    inside = cutout[..., 3] > 0
    assert inside.mean() > 0.4  # the box is mostly product
    # One connected piece, no holes: what imagegen pastes.
    count, _ = cv2.connectedComponents(found.mask)
    assert count == 2
    assert 0.0 < found.fill_ratio < 0.6


def test_same_input_same_result() -> None:
    (case,) = list(
        build_cases(("dress",), backgrounds=("texture",), placements=("wide",), seed=2, pypi_only=True)
    )
    first, second = locate_product(case.image), locate_product(case.image.copy())
    assert first.box == second.box and first.confidence == second.confidence
    assert np.array_equal(first.mask, second.mask)


def test_encoded_bytes_grey_and_alpha_inputs() -> None:
    (case,) = list(build_cases(("dress",), backgrounds=("plain",), placements=("wide",), seed=4))
    ok, png = cv2.imencode(".png", case.image)
    assert ok
    from_bytes = locate_product_bytes(png.tobytes())
    assert mask_iou(from_bytes.mask, case.mask) > 0.7
    grey = cv2.cvtColor(case.image, cv2.COLOR_BGR2GRAY)
    assert locate_product(grey).mask.shape == grey.shape
    bgra = cv2.cvtColor(case.image, cv2.COLOR_BGR2BGRA)
    assert mask_iou(locate_product(bgra).mask, case.mask) > 0.7


def test_flat_picture_gives_whole_image_and_zero_confidence() -> None:
    flat = np.full((300, 400, 3), 240, np.uint8)
    found = locate_product(flat)
    assert found.confidence == 0.0 and not found.found
    assert found.box == (0, 0, 400, 300)
    assert not found.mask.any()
    assert encode_mask_png(found.mask)


def test_corrupt_or_unusable_input_is_a_clear_value_error() -> None:
    with pytest.raises(ValueError, match="cannot decode"):
        decode_image(b"\x89PNG\r\n\x1a\n not really a png")
    with pytest.raises(ValueError, match="empty"):
        locate_product_bytes(b"")
    with pytest.raises(ValueError, match="too small"):
        locate_product(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="shape"):
        locate_product(np.zeros((4, 4, 4, 4), np.uint8))
    with pytest.raises(ValueError, match="dtype"):
        locate_product(np.zeros((64, 64, 3), np.int64))
