"""One decoding pass over a video: shot boundaries from every frame, features from sampled ones.

Frames are decoded once and scaled once to the analysis width; the shot detector sees every
frame, the feature extractor a few per second (and the face cascade fewer), and the sampled
frames are kept (at analysis size, at most `max_samples` of them) for embeddings, the poster
choice and contact sheets.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from creativeloop.videogen.features import FeatureExtractor, FrameFeatures
from creativeloop.videogen.media import Frame, VideoInfo, VideoLimits, analysis_size, decode_frames
from creativeloop.videogen.segment import DetectedBoundary, SegmentConfig, Shot, ShotDetector


@dataclass(frozen=True)
class AnalysisConfig:
    width: int = 320
    samples_per_s: float = 4.0
    face_samples_per_s: float = 1.0
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

    @property
    def duration_s(self) -> float:
        return self.frame_count / float(self.info.fps)


def analyse(
    data: bytes,
    info: VideoInfo,
    limits: VideoLimits,
    segment: SegmentConfig,
    extractor: FeatureExtractor,
    config: AnalysisConfig = AnalysisConfig(),
) -> Analysis:
    """Decode `data` once; VideoRejected if it turns out corrupt, truncated or too long."""
    started = time.perf_counter()
    fps = float(info.fps)
    step = max(1, round(fps / config.samples_per_s), math.ceil(info.frames / config.max_samples))
    face_step = 0
    if config.face_samples_per_s > 0 and extractor.has_face_model:
        face_step = max(step, round(fps / config.face_samples_per_s) // step * step)
    size = analysis_size(info, config.width)
    detector = ShotDetector(segment, info.fps)
    samples: list[FrameFeatures] = []
    keyframes: dict[int, Frame] = {}
    previous: Frame | None = None
    feature_s = 0.0
    for index, frame in decode_frames(data, info, limits, size):
        assert frame is not None
        detector.push(index, frame)
        if index % step == step // 2:
            tick = time.perf_counter()
            with_faces = face_step > 0 and (index // step) % max(1, face_step // step) == 0
            samples.append(extractor.measure(index, frame, previous, with_faces=with_faces))
            keyframes[index] = frame
            feature_s += time.perf_counter() - tick
        previous = frame
    boundaries = detector.finish()
    shots = detector.shots(boundaries)
    if not samples and previous is not None:  # a clip shorter than one sampling step
        samples.append(extractor.measure(detector.frame_count - 1, previous, None, with_faces=False))
        keyframes[detector.frame_count - 1] = previous
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
    )
