"""Shot segmentation: PySceneDetect detectors plus dissolve detection and a flash filter.

Frames are streamed once, at analysis size, through:

- a PySceneDetect hard-cut detector (`AdaptiveDetector` by default: it compares each frame's
  change with its neighbours', which keeps fast camera motion from reading as cuts; or
  `ContentDetector` / `HistogramDetector`);
- PySceneDetect's `ThresholdDetector` for fades through black;
- our own twin-comparison dissolve detector (Zhang, Kankanhalli & Smoliar, "Automatic
  partitioning of full-motion video", 1993): a run of moderate frame-to-frame changes whose
  accumulated change is large is a gradual transition, *if* its middle frame is a pixel-wise blend
  of the frames around it (a pan or a passing object is not, so it is not taken for a dissolve);
- a flash filter: a boundary inside a short burst whose frames before and after match (camera
  flash, strobe, a white frame) is dropped.

Boundaries closer than the minimum shot length are merged. Each frame keeps only a 256-bin
HSV histogram and a 32x18 grey thumbnail, so memory stays small for long videos.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt
from scenedetect import FrameTimecode, SceneDetector
from scenedetect.detectors import AdaptiveDetector, ContentDetector, HistogramDetector, ThresholdDetector

from creativeloop.videogen.media import Frame

BoundaryKind = Literal["cut", "fade", "dissolve"]
HardCutDetector = Literal["adaptive", "content", "histogram", "none"]
_THUMB = (32, 18)
Floats = npt.NDArray[np.float32]


@dataclass(frozen=True)
class SegmentConfig:
    """Detector choices and thresholds (VideogenSettings carries the same names)."""

    hard_cut_detector: HardCutDetector = "adaptive"
    content_threshold: float = 27.0
    adaptive_threshold: float = 3.0
    adaptive_min_content: float = 15.0
    histogram_threshold: float = 0.2
    fade_detector: bool = True
    fade_threshold: float = 12.0
    dissolve_detector: bool = True
    dissolve_low: float = 0.06
    dissolve_high: float = 0.45
    min_shot_s: float = 0.25
    flash_filter: bool = True
    flash_max_s: float = 0.3
    flash_similarity: float = 0.35


@dataclass(frozen=True)
class DetectedBoundary:
    """A boundary: `frame` is the first frame of the new shot."""

    frame: int
    kind: BoundaryKind


@dataclass(frozen=True)
class Shot:
    """Frames `start` (inclusive) to `end` (exclusive)."""

    index: int
    start: int
    end: int

    @property
    def frames(self) -> int:
        return self.end - self.start


def colour_histogram(frame: Frame) -> Floats:
    """256-bin HSV histogram (16 hue x 4 saturation x 4 value) summing to 1."""
    hsv = cv2.cvtColor(frame, cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, [16, 4, 4], [0, 180, 0, 256, 0, 256]).ravel()
    total = float(hist.sum())
    return (hist / total if total else hist).astype(np.float32)


def histogram_distance(a: Floats, b: Floats) -> float:
    """Half the L1 distance: 0 for equal histograms, 1 for disjoint ones."""
    return 0.5 * float(np.abs(a - b).sum())


def _hard_cut_detector(config: SegmentConfig, min_frames: int) -> SceneDetector | None:
    if config.hard_cut_detector == "adaptive":
        return AdaptiveDetector(
            adaptive_threshold=config.adaptive_threshold,
            min_scene_len=min_frames,
            min_content_val=config.adaptive_min_content,
        )
    if config.hard_cut_detector == "content":
        return ContentDetector(threshold=config.content_threshold, min_scene_len=min_frames)
    if config.hard_cut_detector == "histogram":
        return HistogramDetector(threshold=config.histogram_threshold, min_scene_len=min_frames)
    return None


class ShotDetector:
    """Feed frames in order with `push`; `finish` returns the boundaries and shots.

    >>> detector = ShotDetector(SegmentConfig(), Fraction(25))
    >>> for i in range(50):
    ...     detector.push(i, np.full((18, 32, 3), 40 if i < 25 else 200, np.uint8))
    >>> [(b.frame, b.kind) for b in detector.finish()]
    [(25, 'cut')]
    """

    def __init__(self, config: SegmentConfig, fps: Fraction) -> None:
        self.config = config
        self.fps = fps
        self.min_frames = max(1, round(config.min_shot_s * float(fps)))
        self._hard = _hard_cut_detector(config, self.min_frames)
        self._fade = (
            ThresholdDetector(threshold=config.fade_threshold, min_scene_len=self.min_frames, fade_bias=0.0)
            if config.fade_detector
            else None
        )
        self._hard_cuts: list[FrameTimecode] = []
        self._fade_cuts: list[FrameTimecode] = []
        self._hists: list[Floats] = []
        self._thumbs: list[Floats] = []
        self._last = -1

    def push(self, index: int, frame: Frame) -> None:
        """One analysis-size BGR frame; indices must be consecutive from 0."""
        if index != self._last + 1:
            raise ValueError(f"frame {index} after {self._last}: frames must be pushed in order")
        self._last = index
        timecode = FrameTimecode(index, self.fps)
        if self._hard is not None:
            self._hard_cuts += self._hard.process_frame(timecode, frame)
        if self._fade is not None:
            self._fade_cuts += self._fade.process_frame(timecode, frame)
        self._hists.append(colour_histogram(frame))
        grey = cv2.cvtColor(cv2.resize(frame, _THUMB, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
        self._thumbs.append(grey.astype(np.float32))

    @property
    def frame_count(self) -> int:
        return self._last + 1

    def frame_histograms(self) -> list[Floats]:
        return self._hists

    def finish(self) -> list[DetectedBoundary]:
        """Every boundary after merging, flash filtering and the minimum shot length."""
        if self._last < 0:
            return []
        end = FrameTimecode(self._last, self.fps)
        if self._hard is not None:
            self._hard_cuts += self._hard.post_process(end)
        if self._fade is not None:
            self._fade_cuts += self._fade.post_process(end)
        candidates = [DetectedBoundary(tc.frame_num, self._kind(tc.frame_num)) for tc in self._hard_cuts]
        candidates += [DetectedBoundary(tc.frame_num, "fade") for tc in self._fade_cuts]
        if self.config.flash_filter:
            candidates = [b for b in candidates if not self._is_flash(b.frame)]
        if self.config.dissolve_detector:
            candidates += self._dissolves({b.frame for b in candidates})
        return self._merge(candidates)

    def _kind(self, frame: int) -> BoundaryKind:
        """A hard-cut detector firing next to a black frame has seen a fade."""
        near = range(max(0, frame - 2), min(len(self._thumbs), frame + 2))
        return "fade" if any(self._is_dark(k) for k in near) else "cut"

    def shots(self, boundaries: list[DetectedBoundary]) -> list[Shot]:
        starts = [0, *(b.frame for b in boundaries)]
        ends = [*(b.frame for b in boundaries), self.frame_count]
        return [Shot(i, s, e) for i, (s, e) in enumerate(zip(starts, ends, strict=True)) if e > s]

    # ----------------------------------------------------------------- gradual transitions

    def _step(self, t: int) -> float:
        return histogram_distance(self._hists[t], self._hists[t - 1])

    def _dissolves(self, hard: set[int]) -> list[DetectedBoundary]:
        """Twin comparison: runs of frame changes above `dissolve_low` whose total is above
        `dissolve_high` and whose middle frame is a blend of the run's ends."""
        config = self.config
        found: list[DetectedBoundary] = []
        n = len(self._hists)
        t = 1
        while t < n:
            if self._step(t) < config.dissolve_low or any(abs(t - h) <= 1 for h in hard):
                t += 1
                continue
            start, quiet, end = t, 0, t
            while t < n and quiet <= 1:  # tolerate one quiet frame inside a transition
                if self._step(t) >= config.dissolve_low * 0.5:
                    end, quiet = t, 0
                else:
                    quiet += 1
                t += 1
            length = end - start + 1
            if length < 3 or any(start - 1 <= h <= end + 1 for h in hard):
                continue
            before, after = start - 1, min(n - 1, end)
            change = histogram_distance(self._hists[before], self._hists[after])
            if change >= config.dissolve_high and self._is_blend(before, (start + end) // 2, after):
                kind: BoundaryKind = "fade" if self._is_dark((start + end) // 2) else "dissolve"
                found.append(DetectedBoundary((start + end + 1) // 2, kind))
        return found

    def _is_blend(self, before: int, middle: int, after: int) -> bool:
        """Is the middle thumbnail close to alpha * before + (1 - alpha) * after for some alpha?"""
        a, m, b = self._thumbs[before], self._thumbs[middle], self._thumbs[after]
        direction = a - b
        norm = float((direction * direction).sum())
        if norm < 1e-6:
            return False
        alpha = float(np.clip(((m - b) * direction).sum() / norm, 0.0, 1.0))
        residual = m - (alpha * a + (1 - alpha) * b)
        # Fades through black are blends with a dark frame: accept a scaled version too.
        scale = float((m * a).sum() / max(1e-6, float((a * a).sum())))
        faded = min(
            float(np.abs(m - scale * a).mean()),
            float(np.abs(m - (m.mean() / max(1e-6, b.mean())) * b).mean()),
        )
        return float(np.abs(residual).mean()) < 0.35 * float(np.abs(direction).mean()) or faded < 6.0

    def _is_dark(self, frame: int) -> bool:
        return float(self._thumbs[frame].mean()) < max(24.0, self.config.fade_threshold * 2)

    # ------------------------------------------------------------------------- flashes

    def _is_flash(self, frame: int) -> bool:
        """Frames just before and just after a short burst around `frame` are the same shot."""
        burst = max(1, round(self.config.flash_max_s * float(self.fps)))
        n = len(self._hists)
        for before in range(max(0, frame - 1 - burst), frame):
            for after in range(frame, min(n, before + burst + 2)):
                if after - before < 2:
                    continue
                close = (
                    histogram_distance(self._hists[before], self._hists[after]) < self.config.flash_similarity
                )
                if close and float(np.abs(self._thumbs[before] - self._thumbs[after]).mean()) < 18.0:
                    between = range(before + 1, after)
                    if all(
                        float(np.abs(self._thumbs[k] - self._thumbs[before]).mean()) > 18.0 for k in between
                    ):
                        return True
        return False

    # -------------------------------------------------------------------------- merging

    def _merge(self, candidates: list[DetectedBoundary]) -> list[DetectedBoundary]:
        """Sorted, de-duplicated, at least `min_frames` apart and from both ends."""
        kept: list[DetectedBoundary] = []
        last = 0
        for boundary in sorted(candidates, key=lambda b: (b.frame, b.kind != "cut")):
            if boundary.frame - last < self.min_frames:
                continue
            kept.append(boundary)
            last = boundary.frame
        while kept and self.frame_count - kept[-1].frame < self.min_frames:
            kept.pop()
        return kept
