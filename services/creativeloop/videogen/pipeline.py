"""The video pipeline: understand a video once, then cut and render it for any budget and slot.

`understand` (decode, segment, score) is the expensive part and is independent of the budget and
aspect ratio, so the stream stage runs it once per product video and `plan` + `render` once per
(budget, aspect) variant. `summarize` is the one-call version the RPC uses.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from creativeloop.kit.images import ImageRejected, decode_image
from creativeloop.videogen.analyse import Analysis, AnalysisConfig, analyse
from creativeloop.videogen.animate import AnimateOptions, Box, animate
from creativeloop.videogen.crop import crop_size, output_size, parse_aspect
from creativeloop.videogen.embed import Embedder, HistogramEmbedder
from creativeloop.videogen.features import FeatureExtractor
from creativeloop.videogen.media import Frame, FrameCache, VideoInfo, VideoLimits, VideoRejected, probe
from creativeloop.videogen.overlay import Overlay, OverlaySpec
from creativeloop.videogen.product import ProductLook
from creativeloop.videogen.render import RenderedClip, RenderOptions, render_clips
from creativeloop.videogen.score import ScoredShot, Weights, score_shots
from creativeloop.videogen.segment import SegmentConfig
from creativeloop.videogen.selection import Candidate, Clip, Plan, select
from creativeloop.videogen.settings import VideogenSettings


@dataclass
class Understanding:
    """A video's shots and scores: everything that does not depend on budget or slot."""

    data: bytes
    info: VideoInfo
    analysis: Analysis
    shots: list[ScoredShot]

    def centres(self) -> dict[int, list[tuple[int, float, float]]]:
        """Per shot, the sampled subject centroids (frame, x, y) the crop follows."""
        out: dict[int, list[tuple[int, float, float]]] = {}
        for scored in self.shots:
            shot = scored.shot
            out[shot.index] = [
                (s.frame, s.centre_x, s.centre_y)
                for s in self.analysis.samples
                if shot.start <= s.frame < shot.end
            ]
        return out


@dataclass
class Summary:
    understanding: Understanding
    plan: Plan
    budget_frames: int
    aspect: str
    rendered: RenderedClip
    seconds: dict[str, float] = field(default_factory=dict)


def decode_still(data: bytes, max_bytes: int, max_pixels: int) -> Frame:
    """A product image as BGR; VideoRejected (with a reason) if it is not a usable image."""
    try:
        return decode_image(data, max_bytes=max_bytes, max_pixels=max_pixels).pixels
    except ImageRejected as exc:
        raise VideoRejected(exc.reason) from exc


class VideoPipeline:
    """Summaries and animations with one set of settings and one embedder."""

    def __init__(self, settings: VideogenSettings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.embedder: Embedder = embedder or HistogramEmbedder()
        self.limits = VideoLimits(
            max_bytes=settings.max_video_bytes,
            max_pixels=settings.max_video_pixels,
            max_duration_s=settings.max_video_s,
            min_duration_s=settings.min_video_s,
            max_fps=settings.max_fps,
        )
        self.segment = SegmentConfig(
            **{f.name: getattr(settings, f.name) for f in dataclasses.fields(SegmentConfig)}
        )
        self.analysis = AnalysisConfig(
            width=settings.analysis_width,
            samples_per_s=settings.samples_per_s,
            face_samples_per_s=settings.face_samples_per_s,
        )
        self.weights = Weights(
            quality=settings.weight_quality,
            motion=settings.weight_motion,
            product=settings.weight_product,
            text=settings.weight_text,
            faces=settings.weight_faces,
        )

    # ------------------------------------------------------------------ understanding

    def understand(
        self,
        data: bytes,
        product_image: Frame | None = None,
        *,
        info: VideoInfo | None = None,
        slots: Sequence[tuple[str, tuple[int, int]]] | None = None,
    ) -> Understanding:
        """Probe (unless `info` is given), decode once, segment and score; VideoRejected for bad
        input. The decoded frames are kept for rendering `slots` ((aspect, output size) pairs;
        default: the stream's aspects) when they fit in `decode_cache_mb`."""
        info = info if info is not None else probe(data, self.limits)
        look = ProductLook.from_image(product_image) if product_image is not None else None
        extractor = FeatureExtractor(look, self.settings.haar_cascade)
        if slots is None:
            slots = [self.slot(info, aspect, None) for aspect in self.settings.aspects]
        analysis = analyse(
            data, info, self.limits, self.segment, extractor, self.analysis, self._frame_cache(info, slots)
        )
        tick = time.perf_counter()
        shots = score_shots(analysis, self.weights, self.embedder, product_image)
        analysis.seconds["scoring"] = time.perf_counter() - tick
        return Understanding(data, info, analysis, shots)

    def _frame_cache(
        self, info: VideoInfo, slots: Sequence[tuple[str, tuple[int, int]]]
    ) -> FrameCache | None:
        """A cache at the largest scale any of `slots` renders at, if the whole video fits."""
        limit = self.settings.decode_cache_mb * 1024 * 1024
        if limit <= 0 or not slots:
            return None
        scale = max(size[1] / crop_size((info.width, info.height), aspect)[1] for aspect, size in slots)
        cache = FrameCache((info.width, info.height), scale, limit)
        if info.frames * cache.frame_bytes > limit:
            return None  # too long or too large: the render decodes again
        return cache

    # ----------------------------------------------------------------------- planning

    def check_budget(self, budget_s: float) -> None:
        """VideoRejected for a duration budget outside [min_budget_s, max_budget_s] (NaN too):
        cheap, so requests check it before reading or decoding anything."""
        low, high = self.settings.min_budget_s, self.settings.max_budget_s
        if not (low <= budget_s <= high):
            raise VideoRejected(f"duration budget {budget_s:g} s outside [{low:g}, {high:g}] s")

    def check_request(
        self, budget_s: float, aspect: str | None = None, size: tuple[int, int] | None = None
    ) -> None:
        """VideoRejected for what a request can get wrong without its video: the budget, the
        aspect ratio, an explicit output size (checked before anything is read or decoded)."""
        self.check_budget(budget_s)
        if size is not None and size[0] > 0 and size[1] > 0:
            width, height = size[0] // 2 * 2, size[1] // 2 * 2
            if width < 16 or height < 16 or max(width, height) > 3840:
                raise VideoRejected(f"output size {size[0]}x{size[1]} outside 16..3840")
            return
        try:
            parse_aspect(aspect or self.settings.default_aspect)
        except ValueError as exc:
            raise VideoRejected(str(exc)) from exc

    def budget_frames(self, info: VideoInfo, budget_s: float) -> int:
        self.check_budget(budget_s)
        return max(1, round(budget_s * float(info.fps)))

    def plan(self, understanding: Understanding, budget_s: float) -> tuple[Plan, int]:
        """The pieces for `budget_s` (story order) and the budget in frames."""
        fps = float(understanding.info.fps)
        budget = self.budget_frames(understanding.info, budget_s)
        candidates = [Candidate(s.shot, s.score, s.samples, s.descriptor) for s in understanding.shots]
        plan = select(
            candidates,
            budget,
            min_clip=max(1, round(self.settings.min_clip_s * fps)),
            max_clip=max(1, round(self.settings.max_clip_s * fps)),
            crossfade=self._crossfade(fps),
            diversity=self.settings.diversity,
        )
        return plan, budget

    def _crossfade(self, fps: float) -> int:
        return min(round(self.settings.crossfade_s * fps), round(self.settings.min_clip_s * fps) // 2)

    # ---------------------------------------------------------------------- rendering

    def slot(
        self, info: VideoInfo, aspect: str | None, size: tuple[int, int] | None
    ) -> tuple[str, tuple[int, int]]:
        """The aspect ratio and even output size of a request (explicit size wins)."""
        if size is not None and size[0] > 0 and size[1] > 0:
            width, height = size[0] // 2 * 2, size[1] // 2 * 2
            if width < 16 or height < 16 or max(width, height) > 3840:
                raise VideoRejected(f"output size {size[0]}x{size[1]} outside 16..3840")
            divisor = math.gcd(width, height)
            return f"{width // divisor}:{height // divisor}", (width, height)
        aspect = aspect or self.settings.default_aspect
        try:
            parse_aspect(aspect)
        except ValueError as exc:
            raise VideoRejected(str(exc)) from exc
        window = crop_size((info.width, info.height), aspect)
        long_side = min(self.settings.output_long_side, max(window))
        return aspect, output_size(aspect, max(16, long_side))

    def render(
        self,
        understanding: Understanding,
        plan: Plan,
        aspect: str,
        size: tuple[int, int],
        overlay: OverlaySpec | None = None,
        keep_audio: bool = True,
    ) -> RenderedClip:
        info = understanding.info
        options = RenderOptions(
            size=size,
            window=crop_size((info.width, info.height), aspect),
            crossfade=plan.crossfade,
            smoothing_s=self.settings.crop_smoothing_s,
            preset=self.settings.x264_preset,
            crf=self.settings.x264_crf,
            keep_audio=keep_audio,
            audio_bitrate=self.settings.audio_bitrate,
            poster_quality=self.settings.poster_quality,
        )
        layer = self._overlay(overlay, size)
        return render_clips(
            understanding.data,
            info,
            self.limits,
            plan.clips,
            understanding.centres(),
            options,
            layer,
            self._poster_frame(understanding, plan.clips),
            understanding.analysis.frames,
        )

    def _overlay(self, spec: OverlaySpec | None, size: tuple[int, int]) -> Overlay | None:
        if spec is None or spec.empty:
            return None
        try:
            return Overlay(spec, size, self.settings.font_path, self.settings.cjk_font_path)
        except OSError as exc:  # an undecodable logo
            raise VideoRejected(f"overlay logo: {exc}") from exc

    @staticmethod
    def _poster_frame(understanding: Understanding, clips: Sequence[Clip]) -> int:
        best = max(clips, key=lambda c: c.score)
        scored = next((s for s in understanding.shots if s.shot.index == best.shot), None)
        if scored is not None and best.start <= scored.keyframe < best.end:
            return scored.keyframe
        return (best.start + best.end) // 2

    def summarize(
        self,
        data: bytes,
        budget_s: float,
        *,
        aspect: str | None = None,
        size: tuple[int, int] | None = None,
        overlay: OverlaySpec | None = None,
        product_image: Frame | None = None,
        keep_audio: bool = True,
    ) -> Summary:
        """Understand, plan and render in one call (the SummarizeVideo RPC).

        Everything a request can get wrong (budget, slot, the container's header) is checked
        before a frame is decoded; the source is decoded once when its frames fit the cache."""
        started = time.perf_counter()
        self.check_request(budget_s, aspect, size)
        info = probe(data, self.limits)
        slot_aspect, slot_size = self.slot(info, aspect, size)
        understanding = self.understand(data, product_image, info=info, slots=[(slot_aspect, slot_size)])
        plan, budget = self.plan(understanding, budget_s)
        planned = time.perf_counter()
        rendered = self.render(understanding, plan, slot_aspect, slot_size, overlay, keep_audio)
        done = time.perf_counter()
        seconds = dict(understanding.analysis.seconds)
        seconds.update(
            {"understand_and_plan": planned - started, "render": done - planned, "total": done - started}
        )
        return Summary(understanding, plan, budget, slot_aspect, rendered, seconds)

    # ---------------------------------------------------------------------- animation

    def animate(
        self,
        images: Sequence[Frame],
        *,
        seconds: float | None = None,
        aspect: str | None = None,
        size: tuple[int, int] | None = None,
        overlay: OverlaySpec | None = None,
        boxes: Sequence[Box | None] | None = None,
    ) -> tuple[str, RenderedClip]:
        """A Ken Burns clip of `images`; returns (aspect, clip)."""
        if not images:
            raise VideoRejected("no images to animate")
        length = seconds or self.settings.animation_s
        if not (0 < length <= self.settings.max_budget_s):
            raise VideoRejected(f"duration {length} s outside (0, {self.settings.max_budget_s}]")
        first = images[0]
        pseudo = VideoInfo(first.shape[1], first.shape[0], self._fps_fraction(), length, 0, "", "", False)
        slot_aspect, slot_size = self.slot(pseudo, aspect, size)
        if size is None or size[0] <= 0:  # stills are sharp: render at the full output size
            slot_size = output_size(slot_aspect, self.settings.output_long_side)
        options = AnimateOptions(
            size=slot_size,
            aspect=slot_aspect,
            seconds=length,
            fps=self.settings.animation_fps,
            preset=self.settings.x264_preset,
            crf=self.settings.x264_crf,
            poster_quality=self.settings.poster_quality,
        )
        return slot_aspect, animate(images, options, boxes, self._overlay(overlay, slot_size))

    def _fps_fraction(self) -> Fraction:
        return Fraction(self.settings.animation_fps)
