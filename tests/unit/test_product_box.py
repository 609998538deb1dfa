"""Main-product location on composited pictures whose true masks are known."""

from __future__ import annotations

from pathlib import Path

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


# -- ad pictures: text, badges, props, products cut by the frame ------------------------------------

DEJAVU_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def _studio(width: int = 640, height: int = 640) -> np.ndarray:
    return np.full((height, width, 3), (238, 240, 242), np.uint8)


def _dress(canvas: np.ndarray, x0: int, y0: int, height: int) -> np.ndarray:
    """The drawn dress pasted with its top-left at (x0, y0), ``height`` tall; returns its true mask."""
    from creativeloop.datasets.cutouts import garment_cutout

    cut = garment_cutout("dress", "Red", seed=1)
    scale = height / cut.alpha.shape[0]
    w, h = round(cut.alpha.shape[1] * scale), height
    pixels = cv2.resize(cut.bgr, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
    alpha = cv2.resize(cut.alpha, (w, h), interpolation=cv2.INTER_AREA)
    mask = np.zeros(canvas.shape[:2], np.uint8)
    ys, xs = slice(max(0, y0), y0 + h), slice(max(0, x0), x0 + w)
    rows, cols = canvas[ys, xs].shape[:2]
    a = alpha[ys.start - y0 : ys.start - y0 + rows, xs.start - x0 : xs.start - x0 + cols]
    p = pixels[ys.start - y0 : ys.start - y0 + rows, xs.start - x0 : xs.start - x0 + cols]
    region = canvas[ys, xs].astype(np.float32)
    canvas[ys, xs] = np.clip(region * (1 - a[..., None]) + p * a[..., None] + 0.5, 0, 255).astype(np.uint8)
    mask[ys, xs] = np.where(a >= 0.5, 255, 0)
    return mask


def _write(
    canvas: np.ndarray, text: str, x: int, y: int, px: int, colour: tuple[int, int, int]
) -> tuple[tuple[float, float], ...]:
    """Draw ``text`` (PIL, DejaVu Sans Bold) at (x, y); returns its quad as OCR would give it."""
    from PIL import Image as PILImage
    from PIL import ImageDraw, ImageFont

    if not Path(DEJAVU_BOLD).is_file():
        pytest.skip("fonts-dejavu-core not installed")
    image = PILImage.fromarray(canvas[..., ::-1])
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(DEJAVU_BOLD, px)
    left, top, right, bottom = draw.textbbox((x, y), text, font=font)
    draw.text((x, y), text, font=font, fill=colour[::-1])
    canvas[:] = np.asarray(image)[..., ::-1]
    return ((left, top), (right, top), (right, bottom), (left, bottom))


def test_text_next_to_the_product_is_left_out_of_the_box() -> None:
    canvas = _studio()
    mask = _dress(canvas, 40, 140, 360)  # about 330 px wide
    quads = [
        _write(canvas, "SUMMER", 400, 200, 52, (30, 40, 160)),
        _write(canvas, "SALE 50%", 400, 290, 40, (30, 40, 160)),
    ]
    truth = true_box(mask)
    with_text = locate_product(canvas, text_boxes=quads)
    assert box_iou(with_text.box, truth) > 0.85
    x, _y, w, _h = with_text.box
    assert x + w < 400  # nothing of the copy
    assert mask_iou(with_text.mask, mask) > 0.8


def test_a_badge_over_the_products_corner_is_not_the_product() -> None:
    canvas = _studio()
    mask = _dress(canvas, 180, 120, 440)
    cv2.circle(canvas, (200, 150), 58, (40, 170, 250), -1)  # an orange disc
    quad = _write(canvas, "-30%", 157, 133, 30, (255, 255, 255))
    found = locate_product(canvas, text_boxes=[quad])
    assert box_iou(found.box, true_box(mask)) > 0.85
    assert found.mask[150, 160] == 0  # the disc left of the dress is background


def test_a_product_cut_by_the_frame_keeps_its_pixels_at_the_edge() -> None:
    canvas = np.full((600, 800, 3), (214, 228, 236), np.uint8)
    mask = _dress(canvas, -120, 80, 440)  # the left part of the dress is off the picture
    found = locate_product(canvas)
    assert box_iou(found.box, true_box(mask)) > 0.85
    assert found.box[0] == 0  # the box reaches the frame
    assert mask_iou(found.mask, mask) > 0.8


def test_a_small_prop_beside_the_product_is_not_in_the_box() -> None:
    from creativeloop.datasets.cutouts import garment_cutout

    canvas = _studio(800, 600)
    mask = _dress(canvas, 100, 80, 440)  # about 405 px wide: x 100..505; the prop 40 px right of it
    prop = garment_cutout("tee", "Navy", seed=3)
    small = cv2.resize(prop.bgr, (110, 110), interpolation=cv2.INTER_AREA).astype(np.float32)
    alpha = cv2.resize(prop.alpha, (110, 110), interpolation=cv2.INTER_AREA)[..., None]
    region = canvas[400:510, 545:655].astype(np.float32)
    canvas[400:510, 545:655] = np.clip(region * (1 - alpha) + small * alpha, 0, 255).astype(np.uint8)
    found = locate_product(canvas)
    x, _y, w, _h = found.box
    assert x + w < 545 and box_iou(found.box, true_box(mask)) > 0.85
