"""Bad input is rejected with a reason before (or while) decoding: empty, garbage, truncated,
still images, audio only, enormous frames, too long."""

from __future__ import annotations

import io
from fractions import Fraction

import av
import numpy as np
import pytest

from creativeloop.datasets.synthetic_video import ShotSpec, make_video, product_png, to_mp4
from creativeloop.videogen.media import VideoLimits, VideoRejected, analysis_size, decode_frames, probe
from creativeloop.videogen.pipeline import VideoPipeline, decode_still
from creativeloop.videogen.settings import VideogenSettings

LIMITS = VideoLimits()


@pytest.fixture(scope="module")
def clip() -> bytes:
    return to_mp4(make_video([ShotSpec(2.0, seed=1)], [], size=(160, 96)))


def wav(seconds: float = 1.0) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        samples = np.zeros((1, int(8000 * seconds)), np.int16)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def test_a_good_clip_probes_and_decodes(clip: bytes) -> None:
    info = probe(clip, LIMITS)
    assert (info.width, info.height, info.fps, info.frames) == (160, 96, Fraction(25), 50)
    frames = list(decode_frames(clip, info, LIMITS, analysis_size(info, 80)))
    assert len(frames) == 50 and frames[0][1] is not None and frames[0][1].shape == (48, 80, 3)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty video"),
        (b"\x00\x00\x00\x18ftypmp42 this is not a video at all" * 10, "undecodable video"),
        (product_png(), "still image"),
    ],
)
def test_rejected_from_the_header(data: bytes, reason: str) -> None:
    with pytest.raises(VideoRejected, match=reason):
        probe(data, LIMITS)


def test_audio_only_is_unsupported() -> None:
    with pytest.raises(VideoRejected, match="no video stream"):
        probe(wav(), LIMITS)


def test_limits_on_size_length_and_bytes(clip: bytes) -> None:
    with pytest.raises(VideoRejected, match="pixels"):
        probe(clip, VideoLimits(max_pixels=160 * 95))
    with pytest.raises(VideoRejected, match="long"):
        probe(clip, VideoLimits(max_duration_s=1.5))
    with pytest.raises(VideoRejected, match="shorter"):
        probe(clip, VideoLimits(min_duration_s=5.0))
    with pytest.raises(VideoRejected, match="bytes"):
        probe(clip, VideoLimits(max_bytes=len(clip) - 1))


def test_a_truncated_file_is_rejected_while_decoding(clip: bytes) -> None:
    truncated = clip[: len(clip) // 2]  # faststart: the index survives, the media does not
    with pytest.raises(VideoRejected, match=r"truncated|corrupt|undecodable"):
        info = probe(truncated, LIMITS)
        for _ in decode_frames(truncated, info, LIMITS):
            pass


def test_the_pipeline_rejects_bad_budgets_and_aspects(clip: bytes) -> None:
    pipeline = VideoPipeline(VideogenSettings(x264_preset="ultrafast"))
    with pytest.raises(VideoRejected, match="budget"):
        pipeline.summarize(clip, -1.0)
    with pytest.raises(VideoRejected, match="aspect"):
        pipeline.summarize(clip, 1.0, aspect="wide")


def test_still_images_are_checked() -> None:
    assert decode_still(product_png(), 10**6, 10**7).shape == (320, 240, 3)
    with pytest.raises(VideoRejected, match="undecodable"):
        decode_still(b"nope", 10**6, 10**7)
    with pytest.raises(VideoRejected, match="pixels"):
        decode_still(product_png(), 10**6, 1000)
