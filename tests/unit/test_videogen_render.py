"""Summaries end to end on small drawn clips: H.264 read back with PyAV, exact length, size,
audio kept or dropped, overlays, posters, and the crop following the product."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import av
import cv2
import numpy as np
import pytest

from creativeloop.datasets.synthetic_video import ShotSpec, default_script, make_video, product_png, to_mp4
from creativeloop.videogen import crop, encode
from creativeloop.videogen.crop import crop_path, crop_size, output_size, parse_aspect
from creativeloop.videogen.overlay import Overlay, OverlaySpec, logo_bytes
from creativeloop.videogen.pipeline import VideoPipeline
from creativeloop.videogen.settings import VideogenSettings

SETTINGS = VideogenSettings(output_long_side=240, x264_preset="ultrafast")
PIPELINE = VideoPipeline(SETTINGS)


def product_image() -> np.ndarray:
    return np.asarray(cv2.imdecode(np.frombuffer(product_png(), np.uint8), cv2.IMREAD_COLOR))


@pytest.fixture(scope="module")
def clip_with_audio() -> bytes:
    shots, transitions = default_script(1.5)
    return to_mp4(make_video(shots, transitions, size=(320, 180)), audio=True)


@dataclass
class ReadBack:
    codec: str
    size: tuple[int, int]
    frames: list[np.ndarray]
    duration: float
    audio: str | None
    audio_duration: float


def read_back(data: bytes) -> ReadBack:
    """What a player would see: decoded with PyAV, nothing taken from our own bookkeeping."""
    with av.open(io.BytesIO(data), mode="r") as container:
        video = container.streams.video[0]
        frames = [f.to_ndarray(format="bgr24") for f in container.decode(video)]
        audio = container.streams.audio
        return ReadBack(
            codec=video.codec_context.name,
            size=(video.width, video.height),
            frames=frames,
            duration=float((video.duration or 0) * (video.time_base or 0)),
            audio=audio[0].codec_context.name if audio else None,
            audio_duration=float((audio[0].duration or 0) * (audio[0].time_base or 0)) if audio else 0.0,
        )


def test_doctests() -> None:
    import doctest

    assert doctest.testmod(crop).failed == 0
    assert doctest.testmod(encode).failed == 0


@pytest.mark.parametrize(("budget", "aspect"), [(6.0, "9:16"), (3.0, "1:1"), (7.2, "16:9"), (5.0, "4:5")])
def test_summary_is_h264_of_the_budget_and_the_slot(
    clip_with_audio: bytes, budget: float, aspect: str
) -> None:
    summary = PIPELINE.summarize(clip_with_audio, budget, aspect=aspect, product_image=product_image())
    got = read_back(summary.rendered.video)
    assert got.codec == "h264"
    assert len(got.frames) == summary.rendered.frames == round(budget * 25)
    assert abs(got.duration - budget) <= 1 / 25
    width, height = got.size
    aw, ah = parse_aspect(aspect)
    assert abs(width / height - aw / ah) < 0.05 and width % 2 == 0 and height % 2 == 0
    assert got.audio == "aac" and abs(got.audio_duration - budget) < 0.1
    assert cv2.imdecode(np.frombuffer(summary.rendered.poster, np.uint8), cv2.IMREAD_COLOR) is not None
    order = [c.start for c in summary.plan.clips]
    assert order == sorted(order)


def test_audio_dropped_on_request_and_absent_audio_is_fine(clip_with_audio: bytes) -> None:
    dropped = PIPELINE.summarize(clip_with_audio, 4.0, keep_audio=False)
    assert read_back(dropped.rendered.video).audio is None and not dropped.rendered.has_audio
    silent = to_mp4(make_video([ShotSpec(2.0, seed=1), ShotSpec(2.0, seed=2)], ["cut"], size=(160, 96)))
    summary = PIPELINE.summarize(silent, 3.0)
    assert read_back(summary.rendered.video).audio is None


def test_explicit_output_size_and_overlay(clip_with_audio: bytes) -> None:
    plain = PIPELINE.summarize(clip_with_audio, 2.0, size=(200, 120))
    overlaid = PIPELINE.summarize(
        clip_with_audio, 2.0, size=(200, 120), overlay=OverlaySpec("Orange bottle", "$9.99")
    )
    assert read_back(overlaid.rendered.video).size == (200, 120)
    a = read_back(plain.rendered.video).frames[0]
    b = read_back(overlaid.rendered.video).frames[0]
    difference = np.abs(a.astype(int) - b.astype(int)).mean(axis=(1, 2))
    assert difference[-30:].mean() > 10 * max(1.0, difference[:30].mean()), (
        "text drawn in the lower band only"
    )


def test_the_crop_follows_a_moving_product() -> None:
    video = make_video([ShotSpec(3.0, seed=3, product_path=(0.15, 0.85))], [], size=(320, 180))
    understanding = PIPELINE.understand(to_mp4(video), product_image())
    window = crop_size((320, 180), "9:16")
    [shot] = understanding.shots
    corners = crop_path(0, shot.shot.end, understanding.centres()[0], (320, 180), window, 25.0, 0.3)
    centres = (corners[:, 0] + window[0] / 2) / 320
    truth = np.array(video.product_x)
    inside = (truth > 0.35) & (truth < 0.65)  # where the window is not pinned to an edge
    assert np.abs(centres[inside] - truth[inside]).max() < 0.08
    assert centres[-1] - centres[0] > 0.3, "the window moves with the product"


def test_slot_sizes() -> None:
    assert crop_size((1280, 720), "9:16") == (404, 720)
    assert crop_size((640, 480), "16:9") == (640, 360)
    assert output_size("4:5", 720) == (576, 720)
    with pytest.raises(ValueError):
        parse_aspect("wide")


@pytest.fixture
def images() -> Iterator[list[np.ndarray]]:
    first = product_image()
    second = np.full((400, 600, 3), 240, np.uint8)
    cv2.circle(second, (420, 200), 90, (200, 60, 20), -1)
    yield [first, second]


def test_image_to_video(images: list[np.ndarray]) -> None:
    aspect, rendered = PIPELINE.animate(images, seconds=4.0, aspect="9:16", overlay=OverlaySpec("Ken Burns"))
    got = read_back(rendered.video)
    assert aspect == "9:16" and got.codec == "h264" and len(got.frames) == 100 == rendered.frames
    assert got.size == output_size("9:16", SETTINGS.output_long_side)
    frames = [f.astype(int) for f in got.frames]
    # The camera moves inside each image and the second image takes over by the end.
    assert np.abs(frames[0] - frames[45]).mean() > 3
    assert np.abs(frames[0] - frames[-1]).mean() > 10


def test_overlay_draws_logo_headline_and_price_in_their_places() -> None:
    logo = np.zeros((40, 80, 4), np.uint8)
    logo[..., 2] = 255  # opaque red (BGRA)
    logo[..., 3] = 255
    spec = OverlaySpec("夏季新款 亚麻连衣裙", "¥199", logo_bytes(logo))
    layer = Overlay(spec, (240, 426), SETTINGS.font_path, SETTINGS.cjk_font_path)
    frame = layer.apply(np.full((426, 240, 3), 128, np.uint8))
    changed = np.abs(frame.astype(int) - 128).sum(axis=2) > 30
    assert changed[10:30, 10:40].mean() > 0.9, "logo top-left"
    assert changed[300:, :].mean() > 0.1, "headline and price at the bottom"
    assert changed[150:250, :].mean() == 0, "the middle, where the product is, stays clear"
    assert OverlaySpec().empty and not spec.empty
