"""Content admission: reason codes present and absent for constructed pictures and texts."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from creativeloop.datasets.garments import render_garment
from creativeloop.datasets.photos import load_image_file, photo_path
from creativeloop.understanding.admission import (
    EMPTY_TITLE,
    IMAGE_BLURRY,
    IMAGE_LOW_QUALITY,
    IMAGE_TOO_MUCH_TEXT,
    IMAGE_TOO_SMALL,
    NO_IMAGE,
    AdmissionThresholds,
    ImageEvidence,
    edge_sharpness,
    judge_image,
    judge_product,
    measure_image,
    measure_image_bytes,
    order_reasons,
    to_proto,
)
from creativeloop.understanding.product_box import decode_image

GOOD = ImageEvidence(width=800, height=800, edge_sharpness=5000.0, aesthetic_score=70.0, text_area_ratio=0.05)


@pytest.fixture(scope="module")
def garment_png() -> bytes:
    return render_garment("dress", "Red", seed=1)


def test_clean_product_shot_is_admitted_with_no_reasons(garment_png: bytes) -> None:
    evidence = measure_image_bytes(garment_png, text_area_ratio=0.0, ocr_text="")
    assert (evidence.width, evidence.height) == (600, 600)
    verdict = judge_product("Red Linen Midi Dress", [evidence])
    assert verdict.admitted and verdict.reasons == ()
    assert verdict.admitted_images == (0,)
    assert to_proto(verdict).admitted and list(to_proto(verdict).reason_codes) == []


def test_real_photo_passes_and_its_blurred_copy_is_blurry() -> None:
    photo = load_image_file(photo_path("skimage:coffee.png"))
    sharp = judge_image(measure_image(photo))
    assert sharp.admitted and IMAGE_BLURRY not in sharp.reasons
    soft = judge_image(measure_image(cv2.GaussianBlur(photo, (0, 0), 4.0)))
    assert not soft.admitted and soft.reasons == (IMAGE_BLURRY,)


def test_flat_backdrop_is_not_mistaken_for_blur(garment_png: bytes) -> None:
    image = decode_image(garment_png)
    whole_image_laplacian_var = float(
        cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var()
    )
    assert edge_sharpness(image) > AdmissionThresholds().min_edge_sharpness > whole_image_laplacian_var


def test_small_picture_is_too_small(garment_png: bytes) -> None:
    image = decode_image(garment_png)
    small = cv2.resize(image, (200, 260), interpolation=cv2.INTER_AREA)
    verdict = judge_image(measure_image(small))
    assert IMAGE_TOO_SMALL in verdict.reasons and not verdict.admitted
    assert IMAGE_TOO_SMALL not in judge_image(measure_image(image)).reasons


def test_text_and_quality_gates_fire_only_past_their_thresholds() -> None:
    thresholds = AdmissionThresholds()
    wordy = dataclasses.replace(GOOD, text_area_ratio=thresholds.max_text_area_ratio + 0.05)
    ugly = dataclasses.replace(GOOD, aesthetic_score=thresholds.min_aesthetic_score - 1.0)
    assert judge_image(wordy).reasons == (IMAGE_TOO_MUCH_TEXT,)
    assert judge_image(ugly).reasons == (IMAGE_LOW_QUALITY,)
    assert judge_image(GOOD).reasons == ()
    # Unmeasured (no OCR ran, no scorer) means the gate is skipped, not failed.
    unmeasured = dataclasses.replace(GOOD, aesthetic_score=None, text_area_ratio=None)
    assert judge_image(unmeasured).admitted
    strict = AdmissionThresholds(max_text_area_ratio=0.01, min_aesthetic_score=80.0)
    assert judge_image(GOOD, strict).reasons == (IMAGE_TOO_MUCH_TEXT, IMAGE_LOW_QUALITY)


def test_ad_law_codes_on_title_and_on_text_in_the_picture() -> None:
    verdict = judge_product("全网最低价 真丝连衣裙", [GOOD], language="zh")
    assert not verdict.admitted
    assert "ADLAW_ABSOLUTE_TERM" in verdict.reasons
    wordy_image = dataclasses.replace(GOOD, ocr_text="销量第一 限时抢购")
    verdict = judge_product("真丝连衣裙", [wordy_image], language="zh")
    assert not verdict.admitted
    assert verdict.images[0].reasons == ("IMAGE_TEXT_ADLAW_PLATFORM_ABSOLUTE",)
    assert verdict.reasons == ("IMAGE_TEXT_ADLAW_PLATFORM_ABSOLUTE",)
    english = judge_product("The best dress ever", [GOOD], language="en")
    assert english.reasons == ("ADLAW_SUPERLATIVE_EN",) and not english.admitted
    assert judge_product("Flowy Black Linen Dress", [GOOD], language="en").admitted


def test_no_image_and_empty_title() -> None:
    verdict = judge_product("Linen Dress", [])
    assert verdict.reasons == (NO_IMAGE,) and verdict.admitted  # text creatives need no picture
    assert not judge_product("Linen Dress", [], AdmissionThresholds(require_image=True)).admitted
    blank = judge_product("   ", [GOOD])
    assert blank.reasons == (EMPTY_TITLE,) and not blank.admitted


def test_one_good_picture_admits_the_product_and_bad_ones_keep_their_codes() -> None:
    blurry = dataclasses.replace(GOOD, edge_sharpness=10.0)
    tiny = dataclasses.replace(GOOD, width=120, height=90, edge_sharpness=10.0)
    verdict = judge_product("Linen Dress", [blurry, GOOD, tiny])
    assert verdict.admitted and verdict.reasons == ()
    assert verdict.admitted_images == (1,)
    assert verdict.images[0].reasons == (IMAGE_BLURRY,)
    assert verdict.images[2].reasons == (IMAGE_TOO_SMALL, IMAGE_BLURRY)
    refused = judge_product("全网最低价 Linen Dress", [tiny, blurry])
    assert not refused.admitted
    assert refused.reasons == (IMAGE_TOO_SMALL, IMAGE_BLURRY, "ADLAW_ABSOLUTE_TERM")
    # Same content in another order: same product reasons.
    assert judge_product("全网最低价 Linen Dress", [blurry, tiny]).reasons == refused.reasons


def test_reason_order_is_fixed() -> None:
    codes = ["ZZZ_OTHER", IMAGE_LOW_QUALITY, "ADLAW_GUARANTEE", NO_IMAGE, IMAGE_TOO_SMALL, IMAGE_LOW_QUALITY]
    assert order_reasons(codes) == (
        NO_IMAGE,
        IMAGE_TOO_SMALL,
        IMAGE_LOW_QUALITY,
        "ADLAW_GUARANTEE",
        "ZZZ_OTHER",
    )


def test_corrupt_input_is_a_clear_value_error(garment_png: bytes) -> None:
    with pytest.raises(ValueError, match="cannot decode"):
        measure_image_bytes(garment_png[:40])
    with pytest.raises(ValueError, match="text_area_ratio"):
        measure_image_bytes(garment_png, text_area_ratio=1.5)
    with pytest.raises(ValueError, match="shape"):
        measure_image(np.zeros((3,), np.uint8))
