"""Scene classes: each kind recognised on held-out constructed pictures; the signals behave."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from creativeloop.datasets.photos import photo_path
from creativeloop.datasets.scenes import TEST, make_example, missing_sources
from creativeloop.understanding.ocr import OcrLine, OcrPipeline, OcrResult, text_area_ratio
from creativeloop.understanding.scene import (
    CLASSES,
    DEFAULT_MODEL,
    FEATURE_NAMES,
    LightGBMCombiner,
    SceneClass,
    SceneClassifier,
    SceneInputError,
    classifier_signals,
    decode,
    grid_signals,
    image_signals,
    label_groups,
    resize_long,
    text_signals,
)
from tests.unit.test_modelrepo_support import reference_repository

#: Held-out (test-split) pictures per kind: every kind must be right on at least 3 of them.
PER_KIND = 4


@pytest.fixture(scope="module")
def repository() -> Path:
    return reference_repository().repository


@pytest.fixture(scope="module")
def classifier(repository: Path) -> Iterator[SceneClassifier]:
    from creativeloop.kit.models.embedded import EmbeddedModelClient

    client = EmbeddedModelClient(repository, intra_op_threads=2)
    ocr = OcrPipeline.from_repository(client, repository)
    yield SceneClassifier.from_repository(client, repository, ocr=ocr)
    client.close()


def held_out(kind: SceneClass, index: int) -> npt.NDArray[np.uint8]:
    """A test-split picture; skipped (not different) when any photo of the set is not installed."""
    missing = missing_sources()
    if missing:
        pytest.skip(f"photos not installed (opencv-doc, scikit-image, scikit-learn): {missing[:3]}...")
    return make_example(kind, TEST, index)


def test_each_kind_is_recognised_on_held_out_pictures(classifier: SceneClassifier) -> None:
    images = [held_out(kind, i) for kind in CLASSES for i in range(PER_KIND)]
    results = classifier.classify(images)
    for k, kind in enumerate(CLASSES):
        got = [r.scene for r in results[k * PER_KIND : (k + 1) * PER_KIND]]
        assert sum(g == kind for g in got) >= PER_KIND - 1, (kind, got)
    for result in results:
        assert 0.0 < result.confidence <= 1.0
        assert abs(sum(p for _c, p in result.probabilities) - 1.0) < 1e-3
        assert [name for name, _v in result.signals] == list(FEATURE_NAMES)


def test_same_picture_same_answer_from_bytes_or_pixels(classifier: SceneClassifier) -> None:
    image = held_out(SceneClass.COLLAGE, 1)
    ok, png = cv2.imencode(".png", image)
    assert ok
    first, again = classifier.classify([image, png.tobytes()])
    assert first == again
    assert classifier.classify([image]) == [first]


def test_given_ocr_results_are_used_instead_of_reading_again(classifier: SceneClassifier) -> None:
    image = held_out(SceneClass.TEXT_POSTER, 0)
    no_text = OcrResult((), image.shape[1], image.shape[0], 0.0)
    signals = classifier.signals([image], [no_text])[0]
    assert signals["text_area_ratio"] == 0.0 and signals["text_chars_log"] == 0.0
    assert classifier.signals([image])[0]["text_area_ratio"] > 0.1


def test_corrupt_or_empty_images_are_refused() -> None:
    for bad in (b"", b"not an image", np.zeros((0, 4, 3), np.uint8), np.zeros((4, 4, 3), np.float32)):
        with pytest.raises(SceneInputError):
            decode(bad)


def test_plain_background_versus_photo() -> None:
    plain = image_signals(held_out(SceneClass.PLAIN_PRODUCT, 1))
    scene = image_signals(held_out(SceneClass.LIFESTYLE, 1))
    assert plain["border_plain"] > 0.9 > 0.6 > scene["border_plain"]
    assert plain["border_spread"] < scene["border_spread"]
    assert plain["foreground_area"] < 0.6 < scene["foreground_area"]
    assert plain["texture_fill"] < scene["texture_fill"]


def test_faces_are_found_on_people_only() -> None:
    path = photo_path("skimage:astronaut.png")
    if not path.is_file():
        pytest.skip("scikit-image sample photos not installed")
    person = image_signals(np.asarray(cv2.imread(str(path)), np.uint8))
    product = image_signals(held_out(SceneClass.PLAIN_PRODUCT, 1))
    assert person["faces"] >= 1 and person["face_area"] > 0.01
    assert product["faces"] == 0 and product["face_area"] == 0.0


def test_collage_gutters_show_as_grid_lines() -> None:
    tile = resize_long(held_out(SceneClass.LIFESTYLE, 2), 200)[:200, :200]
    tile = np.asarray(cv2.resize(tile, (200, 200)), np.uint8)
    gutter = np.full((200, 8, 3), 255, np.uint8)
    collage = np.hstack([tile, gutter, tile[:, ::-1]])
    lines = grid_signals(collage)
    plain = grid_signals(resize_long(held_out(SceneClass.PLAIN_PRODUCT, 1), 384))
    assert lines["grid_vertical"] > 0.95 and lines["grid_vertical_peak"] > 0.3
    assert plain["grid_vertical"] < 0.8
    assert lines["grid_vertical"] > lines["grid_horizontal"]


def test_text_signals_follow_the_ocr_result() -> None:
    box = ((10.0, 10.0), (90.0, 10.0), (90.0, 30.0), (10.0, 30.0))
    result = OcrResult((OcrLine("SALE", 0.99, box),), 100, 100, 0.16)
    signals = text_signals(result)
    assert signals["text_area_ratio"] == 0.16
    assert signals["text_chars_log"] == pytest.approx(np.log1p(4))
    assert signals["text_line_height"] == pytest.approx(0.2)
    assert text_signals(OcrResult((), 100, 100, 0.0))["text_lines_log"] == 0.0
    sale = OcrLine("SALE", 0.99, box)
    shape = OcrLine("●", 0.9, ((0.0, 50.0), (99.0, 50.0), (99.0, 99.0), (0.0, 99.0)))
    with_shape = text_signals(OcrResult((shape, sale), 100, 100, text_area_ratio([shape, sale], 100, 100)))
    alone = text_signals(OcrResult((sale,), 100, 100, text_area_ratio([sale], 100, 100)))
    assert with_shape == alone  # a plain shape read as a symbol is not text


def test_classifier_signals_measure_confidence_and_groups(repository: Path) -> None:
    labels = (repository / "image_classifier" / "labels.txt").read_text(encoding="utf-8").splitlines()
    groups = label_groups(labels)
    assert all(len(g) > 0 for g in groups)  # label names still match the groups
    uniform = classifier_signals(np.full(1000, 1e-3, np.float32), groups)
    assert uniform["cls_entropy"] == pytest.approx(1.0, abs=1e-4)
    one_hot = np.zeros(1000, np.float32)
    one_hot[groups[0][0]] = 1.0  # an apparel class
    sure = classifier_signals(one_hot, groups)
    assert sure["cls_top1"] == 1.0 and sure["cls_entropy"] < 1e-6 and sure["cls_apparel"] == 1.0


def test_packaged_model_matches_the_feature_contract() -> None:
    combiner = LightGBMCombiner(DEFAULT_MODEL)
    probabilities = combiner.predict(np.zeros((2, len(FEATURE_NAMES)), np.float32))
    assert probabilities.shape == (2, len(CLASSES))
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
