"""One decoding pass over a video: shot boundaries from every frame, features from sampled ones.

Frames are decoded once and scaled once to the analysis width; the shot detector sees every
frame, the feature extractor a few per second (and the face cascade fewer), and the sampled
frames are kept (at analysis size, at most `max_samples` of them) for embeddings, the poster
choice and contact sheets.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field

import cv2

from creativeloop.videogen.features import FeatureExtractor, FrameFeatures
from creativeloop.videogen.media import (
    Frame,
    FrameCache,
    VideoInfo,
    VideoLimits,
    analysis_size,
    decode_frames,
)
from creativeloop.videogen.segment import DetectedBoundary, SegmentConfig, Shot, ShotDetector


@dataclass(frozen=True)
class AnalysisConfig:
    width: int = 320
    samples_per_s: float = 4.0
    face_samples_per_s: float = 0.25
    max_samples: int = 480


@dataclass
class Analysis:
    """What the pass found: shots, sampled features and the sampled frames themselves."""

    info: VideoInfo
    frame_count: int
    boundaries: list[DetectedBoundary]
    shots: list[Shot]
    samples: list[FrameFeatures]
    keyframes: dict[int, Frame]
    size: tuple[int, int]
    seconds: dict[str, float] = field(default_factory=dict)
    #: The decoded frames, kept for rendering (None, or not `complete`, when they did not fit).
    frames: FrameCache | None = None

    @property
    def duration_s(self) -> float:
        return self.frame_count / float(self.info.fps)


def _with_faces(
    samples: list[FrameFeatures],
    shots: list[Shot],
    keyframes: dict[int, Frame],
    extractor: FeatureExtractor,
    per_frame: float,
) -> list[FrameFeatures]:
    """Faces measured on `per_frame` * the shot's length samples of each shot, at least one (the
    face cascade is the dearest feature: a fixed rate would spend it on long shots and miss short
    ones), spread evenly over the shot's samples."""
    chosen: set[int] = set()
    for shot in shots:
        inside = [s.frame for s in samples if shot.start <= s.frame < shot.end]
        if not inside:
            continue
        count = min(len(inside), max(1, round(shot.frames * per_frame)))
        chosen.update(inside[round((k + 0.5) * len(inside) / count - 0.5)] for k in range(count))
    return [
        dataclasses.replace(s, faces=extractor.faces(cv2.cvtColor(keyframes[s.frame], cv2.COLOR_BGR2GRAY)))
        if s.frame in chosen
        else s
        for s in samples
    ]


def analyse(
    data: bytes,
    info: VideoInfo,
    limits: VideoLimits,
    segment: SegmentConfig,
    extractor: FeatureExtractor,
    config: AnalysisConfig = AnalysisConfig(),
    cache: FrameCache | None = None,
) -> Analysis:
    """Decode `data` once (keeping the frames in `cache` for the render when given);
    VideoRejected if it turns out corrupt, truncated or too long."""
    started = time.perf_counter()
    fps = float(info.fps)
    step = max(1, round(fps / config.samples_per_s), math.ceil(info.frames / config.max_samples))
    size = analysis_size(info, config.width)
    detector = ShotDetector(segment, info.fps)
    samples: list[FrameFeatures] = []
    keyframes: dict[int, Frame] = {}
    previous: Frame | None = None
    feature_s = 0.0
    for index, frame in decode_frames(data, info, limits, size, cache=cache):
        assert frame is not None
        detector.push(index, frame)
        if index % step == step // 2:
            tick = time.perf_counter()
            samples.append(extractor.measure(index, frame, previous, with_faces=False))
            keyframes[index] = frame
            feature_s += time.perf_counter() - tick
        previous = frame
    boundaries = detector.finish()
    shots = detector.shots(boundaries)
    if not samples and previous is not None:  # a clip shorter than one sampling step
        samples.append(extractor.measure(detector.frame_count - 1, previous, None, with_faces=False))
        keyframes[detector.frame_count - 1] = previous
    tick = time.perf_counter()
    if config.face_samples_per_s > 0 and extractor.has_face_model:
        samples = _with_faces(samples, shots, keyframes, extractor, config.face_samples_per_s / fps)
    feature_s += time.perf_counter() - tick
    total = time.perf_counter() - started
    return Analysis(
        info=info,
        frame_count=detector.frame_count,
        boundaries=boundaries,
        shots=shots,
        samples=samples,
        keyframes=keyframes,
        size=size,
        seconds={"analysis": total, "features": feature_s, "decode_and_segment": total - feature_s},
        frames=cache,
    )
