"""Shot segmentation: PySceneDetect's interface, with detectors for fades, dissolves and flashes.

Frames are streamed once, at analysis size, through detectors that all implement PySceneDetect's
`SceneDetector` interface (`process_frame`, `post_process`, per-frame metrics in a
`StatsManager`, which `ShotDetector.save_metrics` writes as CSV for tuning):

- a PySceneDetect hard-cut detector (`AdaptiveDetector` by default, `ContentDetector` or
  `HistogramDetector`) proposes cuts;
- `FadeDetector`: fades through a solid picture, black *or* white, with or without hold frames,
  one boundary per fade: the contrast falls to nothing and comes back; only a change of picture
  across the dip is a boundary (a dip that returns to the same picture is a flash or a blink);
- `DissolveDetector`: a dissolve is locally linear in time: a frame is the mean of its neighbours
  `k` frames away while the picture changes a lot. Peaks of that "linear change" are grown into
  spans, and a span is a dissolve if its middle is a blend of its two ends and the ends are
  different pictures even after aligning them (a pan, a zoom or a lighting ramp is linear too,
  but its ends are the same picture shifted or brightened). Two dissolves in a row are two peaks;
- `FlashDetector`: a sudden brightening (or darkening) after which the same picture returns
  within `flash_max_s`; decaying flashes included. Cuts inside a flash are dropped.

Every proposed hard cut is then checked (`verify_cut`): if the picture after it is the picture
before it, aligned (motion), brightened (lighting, flash) or with only a part of the frame changed
(a caption popping in, an object passing), or if the picture before returns within
`flash_max_s`, it is not a cut. Pictures are compared on 64x36 grey thumbnails by normalised
cross-correlation, after a global shift search (`structure_similarity`) and per block
(`unchanged_share`), so both the comparison and the memory per frame (2.3 kB) stay small.

Boundaries closer than the minimum shot length are merged.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal, TextIO

import cv2
import numpy as np
import numpy.typing as npt
from scenedetect import FrameTimecode, SceneDetector, StatsManager
from scenedetect.detectors import AdaptiveDetector, ContentDetector, HistogramDetector

from creativeloop.videogen.media import Frame

BoundaryKind = Literal["cut", "fade", "dissolve"]
HardCutDetector = Literal["adaptive", "content", "histogram", "none"]
Floats = npt.NDArray[np.float32]
#: Thumbnail size (width, height) every comparison works on.
THUMB = (64, 36)
#: Colour thumbnail size, for the colour-channel comparison.
_COLOUR = (16, 9)
#: Below this grey-level standard deviation a thumbnail is a solid picture (no structure).
_FLAT = 2.5


@dataclass(frozen=True)
class SegmentConfig:
    """Detector choices and thresholds (VideogenSettings carries the same names)."""

    hard_cut_detector: HardCutDetector = "adaptive"
    content_threshold: float = 27.0
    adaptive_threshold: float = 3.0
    adaptive_min_content: float = 15.0
    histogram_threshold: float = 0.2
    fade_detector: bool = True
    #: A fade's darkest (or brightest) frame keeps at most this share of the contrast around it.
    fade_depth: float = 0.2
    dissolve_detector: bool = True
    #: Smallest change (grey levels, 2k frames apart) at the peak of a dissolve.
    dissolve_change: float = 8.0
    #: Largest residual of the local linear fit, as a share of the change.
    dissolve_linearity: float = 0.22
    #: Largest residual of the blend fit of a dissolve's middle, as a share of the change.
    dissolve_blend: float = 0.45
    #: Pictures at least this similar (aligned NCC) are the same shot.
    same_picture: float = 0.6
    min_shot_s: float = 0.25
    flash_filter: bool = True
    flash_max_s: float = 0.6
    #: Share of the frame's blocks that must be unchanged for a proposed cut to be a local change.
    local_change: float = 0.45
    max_transition_s: float = 2.0


@dataclass(frozen=True)
class DetectedBoundary:
    """A boundary: `frame` is the first frame of the new shot (the middle of a gradual one)."""

    frame: int
    kind: BoundaryKind


@dataclass(frozen=True)
class Transition:
    """A span of frames `start`..`end` (inclusive) that a detector found, and what it is."""

    start: int
    end: int
    kind: str
    boundary: bool

    @property
    def middle(self) -> int:
        return (self.start + self.end + 1) // 2


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


# ------------------------------------------------------------------- picture comparisons


def thumbnail(frame: Frame) -> npt.NDArray[np.uint8]:
    """The 64x36 grey thumbnail of a BGR frame (area-averaged: noise and fine motion fade)."""
    small = cv2.resize(frame, THUMB, interpolation=cv2.INTER_AREA)
    return np.asarray(small if small.ndim == 2 else cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), np.uint8)


def _template(a: npt.NDArray[Any], search: float) -> tuple[npt.NDArray[Any], int, int]:
    height, width = a.shape
    tw, th = round(width * (1 - 2 * search)), round(height * (1 - search))
    x0, y0 = (width - tw) // 2, (height - th) // 2
    return a[y0 : y0 + th, x0 : x0 + tw], x0, y0


def structure_similarity(a: npt.NDArray[Any], b: npt.NDArray[Any], search: float = 0.125) -> float:
    """Normalised cross-correlation of `a`'s centre inside `b`, best over shifts of up to `search`
    of the width (and half that vertically): 1 for the same picture moved, brightened or
    darkened; NaN when either is a solid picture."""
    template, _, _ = _template(a, search)
    if _std(template) < _FLAT or _std(b) < _FLAT:
        return math.nan
    return float(cv2.minMaxLoc(cv2.matchTemplate(b, template, cv2.TM_CCOEFF_NORMED))[1])


def _std(a: npt.NDArray[Any]) -> float:
    return float(cv2.meanStdDev(a)[1][0, 0])


def _shift(a: npt.NDArray[Any], b: npt.NDArray[Any], search: float) -> tuple[int, int]:
    """Where `a`'s centre sits best in `b` (dx, dy), by normalised cross-correlation."""
    template, x0, y0 = _template(a, search)
    scores = cv2.matchTemplate(b, template, cv2.TM_CCOEFF_NORMED)
    _, _, _, (x, y) = cv2.minMaxLoc(scores)
    return x - x0, y - y0


@dataclass(frozen=True)
class Comparison:
    """How alike two pictures are once aligned: `similarity` of the whole grey picture (NCC, NaN
    for a solid picture), `detail` of its fine structure (NCC of the high-pass pictures),
    `texture` (the weaker picture's high-pass energy in grey levels: low means `detail` is noise)
    and `colour`, the lowest NCC of the three colour channels (NaN when none varies)."""

    similarity: float
    detail: float
    texture: float
    colour: float = math.nan

    def same(self, threshold: float, detail: float = 0.3) -> bool:
        """The same picture: alike as a whole, in its detail where there is texture, and in every
        colour channel (a flash, a lighting change or a tint scales the channels; a new background
        behind the same product does not)."""
        if not self.similarity >= threshold or self.colour < 0.45:
            return False
        return self.texture < 1.0 or self.detail >= detail


def compare(a: Floats, b: Floats, search: float = 0.125) -> Comparison:
    """`structure_similarity`, then the NCC of the two pictures' detail at the best shift: a
    reframing of a smooth picture (an orange, a sky) keeps the coarse shading but not the detail."""
    similarity = structure_similarity(a, b, search)
    if math.isnan(similarity):
        return Comparison(similarity, math.nan, 0.0)
    dx, dy = _shift(a, b, search)
    height, width = a.shape
    ha, hb = _detail(a), _detail(b)
    w, h = width - abs(dx), height - abs(dy)
    pa = ha[max(0, -dy) : max(0, -dy) + h, max(0, -dx) : max(0, -dx) + w][2:-2, 2:-2]
    pb = hb[max(0, dy) : max(0, dy) + h, max(0, dx) : max(0, dx) + w][2:-2, 2:-2]
    pa, pb = pa - pa.mean(), pb - pb.mean()
    energy = math.sqrt(float((pa * pa).sum()) * float((pb * pb).sum()))
    detail = float((pa * pb).sum()) / energy if energy > 1e-6 else math.nan
    return Comparison(similarity, detail, min(float(pa.std()), float(pb.std())))


def colour_similarity(a: npt.NDArray[Any], b: npt.NDArray[Any], shift: tuple[int, int] = (0, 0)) -> float:
    """Lowest per-channel NCC of two small colour thumbnails, `b` shifted by `shift` pixels."""
    height, width = a.shape[:2]
    dx, dy = shift
    pa = np.ascontiguousarray(a[max(0, -dy) : height - max(0, dy), max(0, -dx) : width - max(0, dx)])
    pb = np.ascontiguousarray(b[max(0, dy) : height - max(0, -dy), max(0, dx) : width - max(0, -dx)])
    lowest = math.nan
    for channel in range(a.shape[2]):
        x, y = np.ascontiguousarray(pa[..., channel]), np.ascontiguousarray(pb[..., channel])
        if _std(x) < 3.0 or _std(y) < 3.0:
            continue
        value = float(cv2.matchTemplate(x, y, cv2.TM_CCOEFF_NORMED)[0, 0])
        lowest = value if math.isnan(lowest) else min(lowest, value)
    return lowest


def _detail(a: Floats) -> Floats:
    """The picture's fine structure: a band-pass (difference of Gaussians, sigma 0.7 and 2.5
    thumbnail pixels), coarse enough to survive a little motion, fine enough to tell framings apart."""
    return np.asarray(cv2.GaussianBlur(a, (0, 0), 0.7) - cv2.GaussianBlur(a, (0, 0), 2.5), np.float32)


def unchanged_share(a: Floats, b: Floats, search: float = 0.125, grid: tuple[int, int] = (4, 3)) -> float:
    """Share of `a`'s blocks found unchanged in `b` after the global shift (+-1 pixel): the grey
    levels all but equal (root-mean-square difference <= 4 levels, or a third of the block's own
    contrast where it has texture, which moves a little). Near 1 when only a caption or a passing
    object changed, near 0 after a cut; 0 when the unchanged blocks cover less than a third of
    the frame (a product alone on a new, plain background is a cut), NaN when every block is flat."""
    height, width = a.shape
    dx, dy = _shift(a, b, search)
    padded = cv2.copyMakeBorder(b, 1, 1, 1, 1, cv2.BORDER_REPLICATE)  # room for the +-1 search
    bw, bh = width // grid[0], height // grid[1]
    same = total = 0
    for row in range(grid[1]):
        for col in range(grid[0]):
            x, y = col * bw, row * bh
            x1, y1 = x + dx, y + dy  # in the padded picture: one pixel before the shifted block
            if x1 < 0 or y1 < 0 or x1 + bw + 2 > width + 2 or y1 + bh + 2 > height + 2:
                continue  # moved out of the frame
            block = np.ascontiguousarray(a[y : y + bh, x : x + bw])
            contrast = _std(block)
            if contrast < 3.0:
                continue  # a flat block says nothing (letterbox bars, sky)
            window = padded[y1 : y1 + bh + 2, x1 : x1 + bw + 2]
            error = float(cv2.matchTemplate(window, block, cv2.TM_SQDIFF).min()) / block.size
            total += 1
            same += int(error <= max(4.0, contrast / 3) ** 2)
    if same < (grid[0] * grid[1]) / 3:
        return 0.0
    return same / total if total else math.nan


def blend_residual(before: Floats, middle: Floats, after: Floats) -> tuple[float, float]:
    """Fit `middle` ~ (1 - alpha) * before + alpha * after; returns (alpha, residual / change),
    with residual and change as mean absolute grey levels."""
    direction = after - before
    norm = float((direction * direction).sum())
    change = float(np.abs(direction).mean())
    if norm < 1e-6 or change < 1e-6:
        return 0.0, math.inf
    alpha = float(np.clip(((middle - before) * direction).sum() / norm, 0.0, 1.0))
    residual = float(np.abs(middle - before - alpha * direction).mean())
    return alpha, residual / change


# ------------------------------------------------------------------------ frame signals


class FrameSignals:
    """What the detectors keep of every frame: a grey thumbnail, its mean and its contrast.

    One store is shared by the detectors of a `ShotDetector` (each frame is measured once); a
    detector used alone (`scenedetect.detect(path, FadeDetector())`) keeps its own.
    """

    def __init__(self) -> None:
        self.thumbs: list[npt.NDArray[np.uint8]] = []
        self.colours: list[npt.NDArray[np.uint8]] = []
        self.mean: list[float] = []
        self.std: list[float] = []
        #: The last frame measured, at thumbnail size in colour (what the cut proposer sees).
        self.small: npt.NDArray[np.uint8] = np.zeros((THUMB[1], THUMB[0], 3), np.uint8)

    def __len__(self) -> int:
        return len(self.thumbs)

    def add(self, index: int, frame: Frame) -> None:
        """Measure frame `index` unless it already is (frames come in order from 0)."""
        if index < len(self.thumbs):
            return
        if index != len(self.thumbs):
            raise ValueError(f"frame {index} after {len(self.thumbs) - 1}: frames must come in order")
        small = cv2.resize(frame, THUMB, interpolation=cv2.INTER_AREA)
        if small.ndim == 2:
            small = cv2.cvtColor(small, cv2.COLOR_GRAY2BGR)
        self.small = np.asarray(small, np.uint8)
        thumb = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        mean, std = cv2.meanStdDev(thumb)
        self.thumbs.append(np.asarray(thumb, np.uint8))
        self.colours.append(np.asarray(cv2.resize(small, _COLOUR, interpolation=cv2.INTER_AREA), np.uint8))
        self.mean.append(float(mean[0, 0]))
        self.std.append(float(std[0, 0]))

    def grey(self, index: int) -> Floats:
        return self.thumbs[index].astype(np.float32)

    def compare(self, a: int, b: int, search: float = 0.125) -> Comparison:
        """`compare` of the grey thumbnails plus the colour channels at the same alignment."""
        pa, pb = self.grey(a), self.grey(b)
        result = compare(pa, pb, search)
        if math.isnan(result.similarity):
            return result
        dx, dy = _shift(pa, pb, search)
        scale = _COLOUR[0] / THUMB[0]
        colour = colour_similarity(self.colours[a], self.colours[b], (round(dx * scale), round(dy * scale)))
        return dataclasses.replace(result, colour=colour)

    def flat(self, index: int) -> bool:
        return self.std[index] < _FLAT


class _SignalDetector(SceneDetector):  # type: ignore[misc]
    """A PySceneDetect detector that reads the shared `FrameSignals` and records metrics."""

    METRICS: tuple[str, ...] = ()

    def __init__(self, config: SegmentConfig, signals: FrameSignals | None = None) -> None:
        super().__init__()
        self.config = config
        self.signals = signals if signals is not None else FrameSignals()
        self.transitions: list[Transition] = []
        self._fps = 25.0

    def get_metrics(self) -> list[str]:
        return list(self.METRICS)

    def process_frame(self, timecode: FrameTimecode, frame_img: npt.NDArray[Any]) -> list[FrameTimecode]:
        self.signals.add(timecode.frame_num, frame_img)
        return self.observe(timecode)

    def observe(self, timecode: FrameTimecode) -> list[FrameTimecode]:
        """`process_frame` once the frame is in `signals` (ShotDetector measures each frame once
        for all its detectors)."""
        if timecode.frame_num == 0:
            self._fps = float(timecode.frame_rate or 25)
        self._measure(timecode.frame_num, timecode)
        return []

    def _measure(self, index: int, timecode: FrameTimecode) -> None:
        """Per-frame metrics (recorded in the stats manager when there is one)."""

    def _record(self, index: int, timecode: FrameTimecode, values: dict[str, float]) -> None:
        if self.stats_manager is not None:
            self.stats_manager.set_metrics(FrameTimecode(index, timecode), values)

    def post_process(self, timecode: FrameTimecode) -> list[FrameTimecode]:
        self._fps = float(timecode.frame_rate or 25)
        self.transitions = self.find()
        return [FrameTimecode(t.middle, timecode.frame_rate) for t in self.transitions if t.boundary]

    def find(self) -> list[Transition]:
        raise NotImplementedError

    def frames(self, seconds: float) -> int:
        return max(1, round(seconds * self._fps))


# ------------------------------------------------------------------------------ fades


class FadeDetector(_SignalDetector):
    """Fades through a solid picture (black, white or any flat colour), holds included.

    A dip is a run of frames whose contrast is at most `fade_depth` of the contrast around it,
    grown while the contrast keeps falling before it and rising after it; the frames just outside
    are the pictures faded from and to. A dip between different pictures is one "fade" boundary
    (at its middle); a dip back to the same picture is not a boundary.
    """

    METRICS = ("luma_mean", "luma_std")

    def _measure(self, index: int, timecode: FrameTimecode) -> None:
        self._record(
            index, timecode, {"luma_mean": self.signals.mean[index], "luma_std": self.signals.std[index]}
        )

    def find(self) -> list[Transition]:
        std = self.signals.std
        n = len(std)
        longest = self.frames(self.config.max_transition_s)
        reach = self.frames(1.0)
        found: list[Transition] = []
        mean = self.signals.mean

        def core(t: int, around: float) -> bool:
            """Faded out: little of the contrast around left, and solid or near black or white."""
            faded = std[t] <= max(_FLAT, self.config.fade_depth * around)
            return faded and (std[t] < 2 * _FLAT or mean[t] < 48 or mean[t] > 207)

        def ramps(a: int, b: int) -> bool:
            """Frame b is further out of the fade than frame a (more contrast or moving brightness)."""
            return std[b] > 1.04 * std[a] + 0.2 or abs(mean[b] - mean[a]) > 1.5

        t = 0
        while t < n:
            around = max(std[max(0, t - reach) : t + reach + 1])
            if not (core(t, around) and around > 4 * _FLAT):
                t += 1
                continue
            low = t
            while t + 1 < n and core(t + 1, around):
                t += 1
            high = t
            t += 1
            if high - low > self.frames(3.0):
                continue  # a long flat stretch is a shot of its own (a title card, a dark scene)
            start, end = low, high
            while start > 0 and low - start < longest and ramps(start, start - 1):
                start -= 1
            while end + 1 < n and end - high < longest and ramps(end, end + 1):
                end += 1
            if start == 0 or end == n - 1:
                continue  # fading in at the start or out at the end of the video
            before, after = start - 1, end + 1
            same = self.signals.compare(before, after).same(self.config.same_picture)
            found.append(Transition(start, end, "fade", not same))
            t = max(t, end + 1)
        return found


# -------------------------------------------------------------------------- dissolves


class DissolveDetector(_SignalDetector):
    """Dissolves (cross-fades), also back to back and under motion, by local linearity.

    Per frame t and scale k (2 frames, and 6 for long dissolves): change
    C = mean |F(t+k) - F(t-k)| and residual R = mean |F(t) - (F(t-k) + F(t+k)) / 2|; a frame is
    "linear" when R <= `dissolve_linearity` * C. Peaks of C among linear frames (C >=
    `dissolve_change`) are grown into spans while C keeps falling away from the peak (one bump per
    dissolve: two dissolves in a row are two bumps) and frames stay nearly linear. A span is a
    dissolve when its middle frames are blends of the frames just outside it (residual <=
    `dissolve_blend` of their difference) and those two are different pictures even aligned (a
    pan, a zoom or a lighting ramp is linear too, but its ends are the same picture).
    """

    METRICS = ("blend_change", "blend_residual", "blend_change_long", "blend_residual_long")
    SCALES = (2, 6)

    def __init__(self, config: SegmentConfig, signals: FrameSignals | None = None) -> None:
        super().__init__(config, signals)
        self.change: dict[int, list[float]] = {k: [] for k in self.SCALES}
        self.residual: dict[int, list[float]] = {k: [] for k in self.SCALES}

    def _measure(self, index: int, timecode: FrameTimecode) -> None:
        for k in self.SCALES:
            t = index - k
            change, residual = self.change[k], self.residual[k]
            while len(change) < max(0, t):  # the first k frames have no metric
                change.append(0.0)
                residual.append(0.0)
            if t < k:
                continue
            thumbs = self.signals.thumbs
            a, m, b = thumbs[t - k], thumbs[t], thumbs[t + k]
            pixels = float(a.size)
            change.append(cv2.norm(a, b, cv2.NORM_L1) / pixels)
            residual.append(cv2.norm(m, cv2.addWeighted(a, 0.5, b, 0.5, 0), cv2.NORM_L1) / pixels)
            suffix = "" if k == self.SCALES[0] else "_long"
            self._record(
                t, timecode, {f"blend_change{suffix}": change[t], f"blend_residual{suffix}": residual[t]}
            )

    def find(self) -> list[Transition]:
        found: list[Transition] = []
        for k in self.SCALES:
            for span in self._find(k):
                overlapping = [f for f in found if _overlap(span, f, 0)]
                if not overlapping:
                    found.append(span)
                elif span.boundary and not any(f.boundary for f in overlapping):
                    found = [f for f in found if f not in overlapping] + [span]
        return sorted(found, key=lambda t: t.start)

    def _find(self, k: int) -> list[Transition]:
        change, residual = self.change[k], self.residual[k]
        n = len(change)
        scale = 1.0 if k == self.SCALES[0] else 1.5
        limit = self.config.dissolve_linearity
        std = self.signals.std

        def threshold(t: int) -> float:
            # Low-contrast pictures change less in a dissolve: at most a quarter of the contrast.
            return scale * max(1.5, min(self.config.dissolve_change, 0.25 * std[t]))

        def linear(t: int, floor: float, slack: float = 1.0) -> bool:
            return change[t] >= floor and residual[t] <= slack * limit * change[t]

        is_linear = [linear(t, threshold(t)) for t in range(n)]
        peaks = [
            t
            for t in range(n)
            if is_linear[t]
            and all(change[t] >= change[u] for u in range(max(0, t - 3), min(n, t + 4)) if is_linear[u])
        ]
        longest = self.frames(self.config.max_transition_s)
        found: list[Transition] = []
        claimed = -1
        for peak in peaks:
            if peak <= claimed:
                continue
            floor = max(0.4 * change[peak], 0.5 * threshold(peak))
            low = high = peak
            # Grow while still nearly linear and while the change keeps falling away from the peak.
            while (
                low - 1 >= k
                and peak - low < longest
                and linear(low - 1, floor, 1.6)
                and change[low - 1] <= 1.15 * change[low]
            ):
                low -= 1
            while (
                high + 1 < n
                and high - peak < longest
                and linear(high + 1, floor, 1.6)
                and change[high + 1] <= 1.15 * change[high]
            ):
                high += 1
            start, end = low - k + 1, high + k - 1
            before, after = start - 1, end + 1
            if before < 0 or after >= len(self.signals):
                continue
            if any(self.signals.flat(i) for i in range(before, after + 1)):
                continue  # through a solid picture: a fade, FadeDetector's
            found.append(Transition(start, end, "dissolve", self._is_dissolve(before, start, end, after)))
            claimed = high
        return found

    def _is_dissolve(self, before: int, start: int, end: int, after: int) -> bool:
        signals = self.signals
        p, q = signals.grey(before), signals.grey(after)
        contrast = min(signals.std[before], signals.std[after])
        if float(np.abs(q - p).mean()) < min(self.config.dissolve_change, 0.5 * contrast):
            return False
        if min(signals.std[before], signals.std[after]) < 0.2 * max(signals.std[before], signals.std[after]):
            return False  # from or to a faded picture: a fade in or out, not a dissolve
        alike = signals.compare(before, after)
        if math.isnan(alike.similarity) or alike.same(self.config.same_picture):
            return False  # from or to a solid picture (a fade's), or no change of picture
        if alike.similarity >= 0.45 and alike.detail >= 0.45 and not alike.colour < 0.45:
            return False  # the same picture, moved and relit over the span: no dissolve keeps its detail
        length = end - start + 1
        alphas = []
        for share in (0.25, 0.5, 0.75):
            m = start + min(length - 1, round(share * (length - 1)))
            alpha, residual = blend_residual(p, signals.grey(m), q)
            if residual > self.config.dissolve_blend:
                return False
            alphas.append(alpha)
        return alphas[0] <= alphas[1] + 0.1 and alphas[1] <= alphas[2] + 0.1 and alphas[2] - alphas[0] > 0.15


# -------------------------------------------------------------------------- hard cuts


class StructureCutDetector(_SignalDetector):
    """Hard cuts as a break in picture structure: the aligned thumbnails of frames t-1 and t are
    unalike (NCC < 0.5) while each is alike its other neighbour (>= 0.75). A second proposer next
    to PySceneDetect's colour-based one, for cuts between shots of similar colours."""

    METRICS = ("structure_similarity",)

    def __init__(self, config: SegmentConfig, signals: FrameSignals | None = None) -> None:
        super().__init__(config, signals)
        self.similarity: list[float] = []
        self.proposed: list[int] = []

    @property
    def event_buffer_length(self) -> int:
        return 1

    def observe(self, timecode: FrameTimecode) -> list[FrameTimecode]:
        super().observe(timecode)
        index = timecode.frame_num
        value = 1.0
        if index > 0:
            a, b = self.signals.thumbs[index - 1], self.signals.thumbs[index]
            # Only a frame that changed a lot can be a cut: skip the alignment otherwise.
            if cv2.norm(a, b, cv2.NORM_L1) / a.size >= 6.0:
                value = structure_similarity(a, b)
        self.similarity.append(1.0 if math.isnan(value) else value)
        self._record(index, timecode, {"structure_similarity": self.similarity[-1]})
        t = index - 1  # decided one frame late: frame t+1 must be alike frame t
        if (
            t >= 2
            and self.similarity[t] < 0.5
            and self.similarity[t - 1] >= 0.75
            and self.similarity[t + 1] >= 0.75
        ):
            self.proposed.append(t)
            return [FrameTimecode(t, timecode.frame_rate)]
        return []

    def find(self) -> list[Transition]:
        return []


# ----------------------------------------------------------------------------- flashes


class FlashDetector(_SignalDetector):
    """Flashes: a sudden jump in brightness after which the picture before comes back within
    `flash_max_s` (a camera flash, a strobe, a white frame; decaying ones too). Not boundaries:
    `ShotDetector` drops proposed cuts inside them."""

    METRICS = ("luma_jump",)

    def _measure(self, index: int, timecode: FrameTimecode) -> None:
        jump = self.signals.mean[index] - self.signals.mean[index - 1] if index else 0.0
        self._record(index, timecode, {"luma_jump": jump})

    def find(self) -> list[Transition]:
        mean, n = self.signals.mean, len(self.signals)
        longest = self.frames(self.config.flash_max_s)
        found: list[Transition] = []
        t = 1
        while t < n:
            jump = mean[t] - mean[t - 1]
            steady = t < 2 or abs(mean[t - 1] - mean[t - 2]) < 0.25 * abs(jump)
            if abs(jump) < 15.0 or not steady or self.signals.std[t - 1] < 4 * _FLAT:
                t += 1  # a flash jumps from a steady picture, not from a fade's ramp
                continue
            end = self.flash_end(t - 1, t, longest)
            if end is None:
                t += 1
                continue
            found.append(Transition(t, end, "flash", False))
            t = end + 1
        return found

    def flash_end(self, before: int, start: int, longest: int) -> int | None:
        """The last frame of a burst from `start` if it is a flash: the picture stays the same
        picture from frame to frame (only brighter, or blown out to a solid), and the brightness
        comes back to within a third of the jump within `longest` frames; None otherwise."""
        signals, mean = self.signals, self.signals.mean
        jump = mean[start] - mean[before]
        last = before  # the last frame with structure
        end = None
        for t in range(start, min(len(signals), start + longest + 1)):
            if not signals.flat(t):
                if not signals.compare(last, t).same(self.config.same_picture):
                    return None  # the structure broke: a cut or a new shot, not a flash
                last = t
            if (mean[t] - mean[before]) * math.copysign(1.0, jump) <= 0.35 * abs(jump):
                end = t - 1
                break
        if end is None or end < start:
            return None
        # A decaying flash's tail still fades towards the level before it.
        while (
            end + 2 < len(signals)
            and end + 1 - start < longest
            and (mean[end + 1] - mean[end + 2]) * math.copysign(1.0, jump) > 0.5
        ):
            end += 1
        return end


# ------------------------------------------------------------------------ shot detector


def _hard_cut_detector(config: SegmentConfig) -> SceneDetector | None:
    # Proposals only: verify_cut and the merge enforce the rest, so the minimum length is 1.
    if config.hard_cut_detector == "adaptive":
        return AdaptiveDetector(
            adaptive_threshold=config.adaptive_threshold,
            min_scene_len=1,
            min_content_val=config.adaptive_min_content,
        )
    if config.hard_cut_detector == "content":
        return ContentDetector(threshold=config.content_threshold, min_scene_len=1)
    if config.hard_cut_detector == "histogram":
        return HistogramDetector(threshold=config.histogram_threshold, min_scene_len=1)
    return None


class ShotDetector:
    """Feed frames in order with `push`; `finish` returns the boundaries and shots.

    >>> pictures = [np.random.default_rng(seed).integers(0, 255, (9, 16, 3), np.uint8) for seed in (1, 2)]
    >>> detector = ShotDetector(SegmentConfig(), Fraction(25))
    >>> for i in range(50):
    ...     detector.push(i, cv2.resize(pictures[i >= 25], (64, 36), interpolation=cv2.INTER_CUBIC))
    >>> [(b.frame, b.kind) for b in detector.finish()]
    [(25, 'cut')]
    """

    def __init__(self, config: SegmentConfig, fps: Fraction, *, metrics: bool = False) -> None:
        self.config = config
        self.fps = fps
        self.min_frames = max(1, round(config.min_shot_s * float(fps)))
        self.signals = FrameSignals()
        self._start = FrameTimecode(0, fps)
        self.stats: StatsManager | None = StatsManager() if metrics else None
        self._hard = _hard_cut_detector(config)
        self.fades = FadeDetector(config, self.signals)
        self.dissolves = DissolveDetector(config, self.signals)
        self.flashes = FlashDetector(config, self.signals)
        self.structure = StructureCutDetector(config, self.signals)
        self._ours: tuple[_SignalDetector, ...] = (self.fades, self.dissolves, self.flashes, self.structure)
        self._detectors: list[SceneDetector] = [d for d in (self._hard, *self._ours) if d is not None]
        for detector in self._detectors:
            detector.stats_manager = self.stats
            if self.stats is not None:
                self.stats.register_metrics(detector.get_metrics())
        if self.stats is not None:
            self.stats.register_metrics(["cut_verdict"])
        self._proposed: list[int] = []
        self._last = -1
        #: Why each proposed cut was kept or dropped (frame -> reason), for tuning.
        self.verdicts: dict[int, str] = {}

    def push(self, index: int, frame: Frame) -> None:
        """One analysis-size BGR frame; indices must be consecutive from 0."""
        if index != self._last + 1:
            raise ValueError(f"frame {index} after {self._last}: frames must be pushed in order")
        self._last = index
        timecode = FrameTimecode(index, self._start)  # (a timecode as the rate: 5x cheaper)
        self.signals.add(index, frame)
        if self._hard is not None:
            # PySceneDetect's detector proposes on the colour thumbnail: cuts change the whole
            # picture, and every proposal is verified, so 64x36 is plenty and 10x cheaper.
            self._proposed += [tc.frame_num for tc in self._hard.process_frame(timecode, self.signals.small)]
        for detector in self._ours:
            self._proposed += [tc.frame_num for tc in detector.observe(timecode)]

    @property
    def frame_count(self) -> int:
        return self._last + 1

    def save_metrics(self, target: str | Path | TextIO) -> None:
        """Every per-frame metric of every detector as CSV (PySceneDetect's stats format)."""
        if self.stats is None:
            raise ValueError("metrics were not recorded: ShotDetector(..., metrics=True)")
        self.stats.save_to_csv(target)

    def finish(self) -> list[DetectedBoundary]:
        """Every boundary after verification, flash filtering and the minimum shot length."""
        if self._last < 0:
            return []
        end = FrameTimecode(self._last, self.fps)
        if self._hard is not None:
            self._proposed += [tc.frame_num for tc in self._hard.post_process(end)]
        config = self.config
        spans: list[Transition] = []
        candidates: list[DetectedBoundary] = []
        if config.fade_detector:
            self.fades.post_process(end)
            spans += self.fades.transitions
        if config.dissolve_detector:
            self.dissolves.post_process(end)
            fades = [s for s in spans if s.boundary]
            spans += [d for d in self.dissolves.transitions if not any(_overlap(d, f, 0) for f in fades)]
        if config.flash_filter:
            self.flashes.post_process(end)
            flashes = self.flashes.transitions
            # A flash is a flash: a fade or dissolve found on its brightening or decay is not a boundary.
            spans = [
                Transition(s.start, s.end, s.kind, False) if any(_overlap(s, f, 0) for f in flashes) else s
                for s in spans
            ]
            spans += flashes
        for span in spans:
            if span.boundary:
                kind: BoundaryKind = "fade" if span.kind == "fade" else "dissolve"
                candidates.append(DetectedBoundary(span.middle, kind))
        for frame in sorted(set(self._proposed)):
            verdict = self.verify_cut(frame, spans)
            self.verdicts[frame] = verdict
            if self.stats is not None:
                self.stats.set_metrics(FrameTimecode(frame, self.fps), {"cut_verdict": verdict})
            if verdict == "cut":
                candidates.append(DetectedBoundary(frame, "cut"))
        return self._merge(candidates)

    def verify_cut(self, frame: int, spans: Sequence[Transition]) -> str:
        """ "cut", or why the proposed cut at `frame` is not one."""
        for span in spans:
            blocks = span.boundary or (span.kind != "dissolve" and self.config.flash_filter)
            if span.start - 2 <= frame <= span.end + 2 and blocks:
                return (
                    f"inside {span.kind}"
                    if span.boundary or span.kind == "flash"
                    else f"inside {span.kind} dip"
                )
        if frame <= 0 or frame >= len(self.signals) or not self.config.flash_filter:
            return "cut"
        signals = self.signals
        before, after = signals.grey(frame - 1), signals.grey(frame)
        alike = signals.compare(frame - 1, frame)
        if alike.same(self.config.same_picture, detail=0.5):  # neighbours: little motion between
            return f"same picture ({alike.similarity:.2f}, detail {alike.detail:.2f})"
        share = unchanged_share(before, after)
        if share >= self.config.local_change:
            return f"local change ({share:.2f} unchanged)"
        # The picture before comes back (a flash, an object passing, a blink): look for the same
        # picture on both sides, nearest pairs first.
        longest = self.flashes.frames(self.config.flash_max_s)
        befores = [b for b in (frame - 1, frame - 2, frame - 4, frame - 7, frame - 10) if b >= 0]
        threshold = self.config.same_picture
        for later in range(frame + 1, min(len(signals), frame + longest + 1)):
            for earlier in befores:
                if later - earlier > longest + 4:
                    continue
                # The whole-picture NCC first (one template match); all of `compare` only if it passes.
                if not structure_similarity(signals.thumbs[earlier], signals.thumbs[later]) >= threshold:
                    continue
                if signals.compare(earlier, later).same(threshold):
                    return f"picture of {earlier} returns at {later}"
        return "cut"

    def shots(self, boundaries: list[DetectedBoundary]) -> list[Shot]:
        starts = [0, *(b.frame for b in boundaries)]
        ends = [*(b.frame for b in boundaries), self.frame_count]
        return [Shot(i, s, e) for i, (s, e) in enumerate(zip(starts, ends, strict=True)) if e > s]

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


def _overlap(a: Transition, b: Transition, margin: int) -> bool:
    return a.start - margin <= b.end and b.start - margin <= a.end
