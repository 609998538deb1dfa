"""OCR pipeline on the real PP-OCR models, served by the embedded backend from a model repository."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageDraw, ImageFont

from creativeloop.kit.models.errors import ModelError
from creativeloop.understanding.ocr import (
    OcrInputError,
    OcrPipeline,
    OcrResult,
    OcrSettings,
    load_dictionary,
)
from tests.unit.test_modelrepo_support import reference_repository

DEJAVU_BOLD = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
WQY = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")


@pytest.fixture(scope="module")
def repository() -> Path:
    return reference_repository().repository


@pytest.fixture(scope="module")
def pipeline(repository: Path) -> Iterator[OcrPipeline]:
    from creativeloop.kit.models.embedded import EmbeddedModelClient

    client = EmbeddedModelClient(repository, intra_op_threads=2)
    yield OcrPipeline.from_repository(client, repository)
    client.close()


def render(
    lines: list[tuple[str, Path]],
    size: tuple[int, int] = (480, 320),
    background: tuple[int, int, int] = (250, 246, 236),
    ink: tuple[int, int, int] = (25, 25, 25),
    px: int = 34,
) -> bytes:
    """A PNG with ``lines`` stacked from the top-left, each in its own font."""
    if not all(font.is_file() for _, font in lines):
        pytest.skip("fonts-dejavu-core / fonts-wqy-microhei not installed")
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    y = 24
    for text, font in lines:
        draw.text((24, y), text, font=ImageFont.truetype(str(font), px), fill=ink)
        y += int(px * 1.7)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def images() -> list[bytes]:
    return [
        render([("限时特惠 全场五折", WQY), ("Summer Sale $29.99", DEJAVU_BOLD), ("到手价¥199", WQY)]),
        render(
            [("NEW ARRIVALS", DEJAVU_BOLD), ("Free Shipping", DEJAVU_BOLD)],
            background=(30, 36, 70),
            ink=(255, 236, 140),
        ),
        render([("纯棉短袖T恤", WQY)], size=(360, 240), px=40),
        render([("Only $59", DEJAVU_BOLD)], size=(480, 320), px=44),  # same size as the first two
    ]


def decode(png: bytes) -> npt.NDArray[np.uint8]:
    return np.asarray(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR), dtype=np.uint8)


def texts(result: OcrResult) -> list[str]:
    return [line.text for line in result.lines]


def test_reads_rendered_chinese_and_english(pipeline: OcrPipeline, images: list[bytes]) -> None:
    results = pipeline.read(images)
    # PP-OCR keeps English word spaces but may drop a space between Chinese words.
    assert texts(results[0])[1:] == ["Summer Sale $29.99", "到手价¥199"]
    assert texts(results[0])[0].replace(" ", "") == "限时特惠全场五折"
    assert texts(results[1]) == ["NEW ARRIVALS", "Free Shipping"]  # light on dark
    assert texts(results[2]) == ["纯棉短袖T恤"]
    assert texts(results[3]) == ["Only $59"]
    first = results[0]
    assert (first.width, first.height) == (480, 320)
    assert all(0.9 < line.confidence <= 1.0 for line in first.lines)
    # Reading order is top to bottom; boxes are in original pixels, quads normalised.
    tops = [min(y for _x, y in line.box) for line in first.lines]
    assert tops == sorted(tops)
    quad = first.lines[0].quad(first.width, first.height)
    assert len(quad) == 8 and all(0.0 <= v <= 1.0 for v in quad)
    assert 0.05 < first.text_area_ratio < 0.5
    assert results[2].text_area_ratio > results[3].text_area_ratio * 0.5  # both small single lines


def test_agrees_with_rapidocr_itself(pipeline: OcrPipeline, images: list[bytes]) -> None:
    """Same networks, same pre/post-processing: RapidOCR() run directly reads the same (the
    pipeline with the ad-layout steps off, `OcrSettings.rapidocr`)."""
    rapidocr = pytest.importorskip("rapidocr")
    engine = rapidocr.RapidOCR(params={"Global.log_level": "warning"})
    plain = OcrPipeline(
        pipeline.client, load_dictionary(reference_repository().repository), OcrSettings.rapidocr()
    )
    for image, mine in zip(images, plain.read(images), strict=True):
        theirs = engine(image)
        assert texts(mine) == list(theirs.txts)
        assert np.allclose(np.array([line.box for line in mine.lines]), theirs.boxes, atol=0.01)
        assert np.allclose([line.confidence for line in mine.lines], theirs.scores, atol=1e-4)


def test_ad_layout_steps_keep_rapidocr_text_and_tighten_its_boxes(
    pipeline: OcrPipeline, images: list[bytes]
) -> None:
    """On single-column text the default pipeline reads what RapidOCR() reads, in the same order,
    with each box inside RapidOCR's (shrunk to the ink)."""
    rapidocr = pytest.importorskip("rapidocr")
    engine = rapidocr.RapidOCR(params={"Global.log_level": "warning"})
    for image, mine in zip(images, pipeline.read(images), strict=True):
        theirs = engine(image)
        assert texts(mine) == list(theirs.txts)
        for line, box in zip(mine.lines, theirs.boxes, strict=True):
            ours, outer = np.array(line.box), np.array(box)
            assert ours[:, 0].min() >= outer[:, 0].min() - 0.5 and ours[:, 0].max() <= outer[:, 0].max() + 0.5
            assert ours[:, 1].min() >= outer[:, 1].min() - 0.5 and ours[:, 1].max() <= outer[:, 1].max() + 0.5
            assert np.ptp(ours[:, 1]) < np.ptp(outer[:, 1])  # the padding is gone


def test_batching_across_images_gives_the_one_by_one_result(
    pipeline: OcrPipeline, images: list[bytes]
) -> None:
    together = pipeline.read(images)
    alone = [pipeline.read_one(image) for image in images]
    for a, b in zip(together, alone, strict=True):
        assert texts(a) == texts(b)
        assert [line.box for line in a.lines] == [line.box for line in b.lines]
        assert np.allclose(
            [line.confidence for line in a.lines], [line.confidence for line in b.lines], atol=1e-4
        )
        assert a.text_area_ratio == b.text_area_ratio


def test_decoded_arrays_read_like_bytes_and_results_are_deterministic(
    pipeline: OcrPipeline, images: list[bytes]
) -> None:
    bgr = decode(images[0])
    assert pipeline.read_one(bgr) == pipeline.read_one(images[0])
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    assert texts(pipeline.read_one(grey)) == texts(pipeline.read_one(images[0]))


def test_upside_down_text_is_turned_by_the_angle_classifier(pipeline: OcrPipeline) -> None:
    image = decode(render([("Summer Sale", DEJAVU_BOLD)]))
    assert texts(pipeline.read_one(np.ascontiguousarray(image[::-1, ::-1]))) == ["Summer Sale"]


def test_blank_image_has_no_lines(pipeline: OcrPipeline) -> None:
    result = pipeline.read_one(np.full((200, 300, 3), 255, np.uint8))
    assert result.lines == () and result.text_area_ratio == 0.0 and result.text == ""
    assert pipeline.read([]) == []


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (b"", "empty"),
        (b"definitely not a picture", "cannot decode"),
        (np.zeros((0, 10, 3), np.uint8), "shape"),
        (np.zeros((10, 10, 3), np.float32), "dtype"),
        (np.zeros((10, 10, 2), np.uint8), "shape"),
        ("a path is not accepted", "expected encoded bytes"),
    ],
)
def test_bad_input_raises_a_clear_error(pipeline: OcrPipeline, image: object, message: str) -> None:
    with pytest.raises(OcrInputError, match=message):
        pipeline.read([image])  # type: ignore[list-item]


def test_truncated_png_is_a_clear_error(pipeline: OcrPipeline, images: list[bytes]) -> None:
    with pytest.raises(OcrInputError, match="image 1"):
        pipeline.read([images[0], images[0][: len(images[0]) // 2]])


def test_a_dictionary_that_does_not_match_the_model_is_refused(
    pipeline: OcrPipeline, repository: Path
) -> None:
    characters = load_dictionary(repository)
    assert len(characters) == 18708
    wrong = OcrPipeline(pipeline.client, characters[:-5])
    with pytest.raises(ModelError, match=r"labels\.txt"):
        wrong.read_one(render([("SALE", DEJAVU_BOLD)]))
