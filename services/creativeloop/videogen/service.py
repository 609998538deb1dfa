"""The SummarizeVideo / AnimateImages RPCs and the content.profiles stream stage (video creatives)."""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import grpc

from creativeloop.kit.assets import AssetNotFound, AssetStore
from creativeloop.kit.codec import InvalidEvent
from creativeloop.kit.images import ImageRejected, decode_image
from creativeloop.kit.lifecycle import CreativeRetirer
from creativeloop.kit.logs import get_logger
from creativeloop.kit.money import format_price
from creativeloop.kit.producer import EventProducer
from creativeloop.kit.stage import (
    Keyed,
    ProfileStage,
    RetireHook,
    VersionStore,
    profile_subject,
)
from creativeloop.kit.timeutil import now_timestamp
from creativeloop.kit.topics import CREATIVES
from creativeloop.kit.validation import Invalid, check_finite, check_id, check_price, require
from creativeloop.v1 import common_pb2, events_pb2, videogen_pb2, videogen_pb2_grpc
from creativeloop.videogen.animate import Box
from creativeloop.videogen.media import Frame, VideoRejected
from creativeloop.videogen.overlay import OverlaySpec
from creativeloop.videogen.pipeline import Summary, Understanding, VideoPipeline, decode_still
from creativeloop.videogen.render import RenderedClip
from creativeloop.videogen.settings import VideogenSettings

log = get_logger(__name__)
MP4 = "video/mp4"
JPEG = "image/jpeg"


#: Absolute paths (two components or more) and file or s3 uris: where the server keeps things.
_SERVER_LOCATION = re.compile(r"\b(?:file|s3)://[^\s'\"]*|(?<![\w:/])(?:/[\w.~+\-]+){2,}/?")


def public_reason(reason: str) -> str:
    """A rejection reason fit to send to a client: server paths and storage uris left out.

    >>> public_reason("'file:///srv/assets/ab/abc.mp4' is outside the asset store /srv/assets")
    "'<server location>' is outside the asset store <server location>"
    >>> public_reason("duration budget 1e-09 s outside [1, 120] s; aspect 9:16")
    'duration budget 1e-09 s outside [1, 120] s; aspect 9:16'
    """
    return _SERVER_LOCATION.sub("<server location>", reason)


def _digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


class MediaReader:
    """Bytes of a `Media`: inline content or an asset-store uri, within a size limit."""

    def __init__(self, store: AssetStore) -> None:
        self.store = store

    def read(self, media: common_pb2.Media, what: str, max_bytes: int) -> bytes:
        if media.content:
            data = bytes(media.content)
        elif media.uri:
            try:
                data = self.store.get(media.uri)
            except AssetNotFound as exc:
                # The store's own message names where it lives: log it, tell the client less.
                log.info("asset not found", what=what, reason=str(exc))
                raise VideoRejected(f"{what}: no such asset in the asset store") from exc
        else:
            raise VideoRejected(f"{what} needs content or uri")
        if len(data) > max_bytes:
            raise VideoRejected(f"{what} is {len(data)} bytes, limit {max_bytes}")
        return data


def _overlay(
    overlay: videogen_pb2.VideoOverlay, reader: MediaReader, max_bytes: int, max_pixels: int
) -> OverlaySpec:
    logo = b""
    if overlay.logo.content or overlay.logo.uri:
        logo = reader.read(overlay.logo, "overlay.logo", max_bytes)
        try:  # the overlay opens it later: a corrupt or oversized logo is the request's fault
            decode_image(
                logo, subject="overlay.logo", max_bytes=max_bytes, max_pixels=max_pixels, keep_alpha=True
            )
        except ImageRejected as exc:
            raise VideoRejected(exc.reason) from None
    _check(lambda: check_price("overlay.price", overlay.price) if overlay.HasField("price") else None)
    return OverlaySpec(overlay.headline, format_price(overlay.price), logo)


def _check(check: Callable[[], None]) -> None:
    """Run `kit.validation` checks; their `Invalid` is a `VideoRejected` (INVALID_ARGUMENT)."""
    try:
        check()
    except Invalid as exc:
        raise VideoRejected(exc.reason) from None


def _check_box(field: str, box: common_pb2.Box) -> None:
    for name in ("x", "y", "width", "height"):
        value = getattr(box, name)
        require(math.isfinite(value) and -1.0 <= value <= 2.0, f"{field}.{name} {value!r} is not in [-1, 2]")


def _check_seconds(field: str, value: float) -> None:
    check_finite(field, value)


def _media(content: bytes, mime_type: str, store: AssetStore | None) -> common_pb2.Media:
    if store is not None:
        uri, digest = store.put(content, mime_type)
        return common_pb2.Media(uri=uri, sha256=digest, mime_type=mime_type)
    return common_pb2.Media(content=content, sha256=_digest(content), mime_type=mime_type)


def shot_messages(summary: Summary) -> list[videogen_pb2.VideoShot]:
    understanding = summary.understanding
    fps = float(understanding.info.fps)
    kinds = {b.frame: b.kind for b in understanding.analysis.boundaries}
    chosen = {c.shot for c in summary.plan.clips}
    return [
        videogen_pb2.VideoShot(
            index=s.shot.index,
            start_frame=s.shot.start,
            end_frame=s.shot.end,
            start_seconds=s.shot.start / fps,
            end_seconds=s.shot.end / fps,
            score=s.score,
            features={k: v for k, v in s.features.items() if k != "score"},
            boundary=kinds.get(s.shot.start, "start"),
            selected=s.shot.index in chosen,
        )
        for s in understanding.shots
    ]


def segment_messages(summary: Summary) -> list[videogen_pb2.VideoSegment]:
    fps = float(summary.understanding.info.fps)
    return [
        videogen_pb2.VideoSegment(
            shot_index=c.shot,
            start_frame=c.start,
            end_frame=c.end,
            start_seconds=c.start / fps,
            end_seconds=c.end / fps,
        )
        for c in summary.plan.clips
    ]


class VideogenServicer(videogen_pb2_grpc.VideoGenerationServiceServicer):
    """SummarizeVideo and AnimateImages; CPU work runs in threads, at most `max_concurrent_jobs`."""

    def __init__(
        self,
        settings: VideogenSettings,
        pipeline: VideoPipeline,
        store: AssetStore,
        jobs: asyncio.Semaphore | None = None,
    ) -> None:
        self._settings = settings
        self._pipeline = pipeline
        self._store = store
        self._reader = MediaReader(store)
        self._jobs = jobs or asyncio.Semaphore(settings.max_concurrent_jobs)

    async def SummarizeVideo(
        self, request: videogen_pb2.SummarizeVideoRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> videogen_pb2.SummarizeVideoResponse:
        try:
            # What needs no video (budget, aspect, size) is checked before waiting for a job slot,
            # reading the video or decoding a frame: a bad request costs microseconds.
            self._pipeline.check_request(self._budget(request), *self._slot_request(request))
            async with self._jobs:
                return await asyncio.to_thread(self._summarize, request)
        except VideoRejected as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, public_reason(exc.reason))

    def _budget(self, request: videogen_pb2.SummarizeVideoRequest) -> float:
        return request.duration_budget_seconds or self._settings.default_budget_s

    @staticmethod
    def _slot_request(
        request: videogen_pb2.SummarizeVideoRequest,
    ) -> tuple[str | None, tuple[int, int] | None]:
        size = (request.width, request.height) if request.width > 0 and request.height > 0 else None
        return request.aspect_ratio or None, size

    def _summarize(self, request: videogen_pb2.SummarizeVideoRequest) -> videogen_pb2.SummarizeVideoResponse:
        settings = self._settings
        data = self._reader.read(request.video, "video", settings.max_video_bytes)
        product: Frame | None = None
        if request.product_image.content or request.product_image.uri:
            raw = self._reader.read(request.product_image, "product_image", settings.max_image_bytes)
            product = decode_still(raw, settings.max_image_bytes, settings.max_image_pixels)
        _check(lambda: check_id("product_id", request.product_id))
        _check(lambda: _check_seconds("duration_budget_seconds", request.duration_budget_seconds))
        overlay = _overlay(request.overlay, self._reader, settings.max_image_bytes, settings.max_image_pixels)
        aspect, size = self._slot_request(request)
        summary = self._pipeline.summarize(
            data,
            self._budget(request),
            aspect=aspect,
            size=size,
            overlay=overlay,
            product_image=product,
            keep_audio=not request.drop_audio,
        )
        rendered = summary.rendered
        store = self._store if request.store else None
        return videogen_pb2.SummarizeVideoResponse(
            video=_media(rendered.video, MP4, store),
            poster=_media(rendered.poster, JPEG, store),
            duration_seconds=rendered.duration_s,
            width=rendered.width,
            height=rendered.height,
            frame_rate=float(rendered.fps),
            frames=rendered.frames,
            has_audio=rendered.has_audio,
            shots=shot_messages(summary),
            segments=segment_messages(summary),
            source_duration_seconds=summary.understanding.analysis.duration_s,
            aspect_ratio=summary.aspect,
            attributes=summary_attributes(summary, self._pipeline.embedder.name),
        )

    async def AnimateImages(
        self, request: videogen_pb2.AnimateImagesRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> videogen_pb2.AnimateImagesResponse:
        try:
            async with self._jobs:
                return await asyncio.to_thread(self._animate, request)
        except VideoRejected as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, public_reason(exc.reason))

    def _animate(self, request: videogen_pb2.AnimateImagesRequest) -> videogen_pb2.AnimateImagesResponse:
        settings = self._settings
        if not request.images:
            raise VideoRejected("no images")
        _check(lambda: check_id("product_id", request.product_id))
        _check(lambda: _check_seconds("duration_seconds", request.duration_seconds))
        for box in request.product_boxes:
            _check(lambda box=box: _check_box("product_boxes", box))  # type: ignore[misc]
        if len(request.images) > settings.animation_max_images:
            raise VideoRejected(f"{len(request.images)} images, limit {settings.animation_max_images}")
        images = [
            decode_still(
                self._reader.read(m, f"images[{i}]", settings.max_image_bytes),
                settings.max_image_bytes,
                settings.max_image_pixels,
            )
            for i, m in enumerate(request.images)
        ]
        boxes: list[Box | None] = [
            (b.x, b.y, b.width, b.height) if b.width > 0 and b.height > 0 else None
            for b in request.product_boxes
        ]
        aspect, rendered = self._pipeline.animate(
            images,
            seconds=request.duration_seconds or None,
            aspect=request.aspect_ratio or None,
            size=(request.width, request.height) if request.width > 0 and request.height > 0 else None,
            overlay=_overlay(
                request.overlay, self._reader, settings.max_image_bytes, settings.max_image_pixels
            ),
            boxes=boxes,
        )
        store = self._store if request.store else None
        return videogen_pb2.AnimateImagesResponse(
            video=_media(rendered.video, MP4, store),
            poster=_media(rendered.poster, JPEG, store),
            duration_seconds=rendered.duration_s,
            width=rendered.width,
            height=rendered.height,
            frame_rate=float(rendered.fps),
            frames=rendered.frames,
            aspect_ratio=aspect,
            attributes={"generator": "ken-burns", "images": str(len(images))},
        )


def summary_attributes(summary: Summary, embedder: str) -> dict[str, str]:
    clips = summary.plan.clips
    return {
        "generator": "video-summary",
        "budget_s": f"{summary.budget_frames / float(summary.understanding.info.fps):g}",
        "duration_s": f"{summary.rendered.duration_s:.3f}",
        "aspect": summary.aspect,
        "shots": ",".join(str(c.shot) for c in clips),
        "shot_scores": ",".join(f"{c.score:.3f}" for c in clips),
        "source_shots": str(len(summary.understanding.shots)),
        "crossfade_frames": str(summary.plan.crossfade),
        "has_audio": str(summary.rendered.has_audio).lower(),
        "embedder": embedder,
        **({"notes": "; ".join(summary.rendered.notes)} if summary.rendered.notes else {}),
    }


def video_creative_id(product_id: str, version: int, source: str, budget_s: float, aspect: str) -> str:
    """Deterministic id of one product version's video creative for one budget and slot."""
    key = f"video\n{product_id}\n{version}\n{source}\n{budget_s:g}\n{aspect}"
    return "vid-" + hashlib.sha256(key.encode()).hexdigest()[:20]


class ProfileHandler:
    """content.profiles -> video summaries (or animated images) per budget x aspect -> `creatives`.

    Idempotent: creative ids hash their inputs and assets are content-addressed, so a replayed
    profile republishes the same creatives. A missing, corrupt or unusable video raises
    InvalidEvent, which the worker dead-letters before going on with the next profile. `generate`
    renders; the kit's `ProfileStage` does admission, version ordering (persisted with a
    `TopicVersionStore`), deletion, publishing and retirement.
    """

    def __init__(
        self,
        settings: VideogenSettings,
        producer: EventProducer,
        store: AssetStore,
        pipeline: VideoPipeline,
        jobs: asyncio.Semaphore | None = None,
        *,
        versions: VersionStore | None = None,
        retire: RetireHook | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._reader = MediaReader(store)
        self._pipeline = pipeline
        #: Shared with the servicer, so RPCs and the stream together stay within the limit.
        self._jobs = jobs or asyncio.Semaphore(settings.max_concurrent_jobs)
        self.stage = ProfileStage(
            "videogen",
            producer,
            CREATIVES,
            self.generate,
            profile_subject,
            versions=versions,
            retire=retire if retire is not None else CreativeRetirer(producer),
        )

    @property
    def creatives_published(self) -> int:
        return self.stage.published

    async def __call__(self, event: events_pb2.ContentProfileUpdated) -> None:
        await self.stage(event)

    async def generate(self, event: events_pb2.ContentProfileUpdated) -> list[Keyed]:
        profile = event.profile
        if profile.videos:
            work = self.summarize_profile
        elif profile.images and self._settings.animate_images:
            work = self.animate_profile
        else:
            log.info("profile skipped: no video", product_id=profile.product_id)
            return []
        try:
            async with self._jobs:
                creatives = await asyncio.to_thread(work, profile)
        except VideoRejected as exc:
            raise InvalidEvent(exc.reason) from exc
        stamp = now_timestamp()
        log.info("video creatives rendered", product_id=profile.product_id, creatives=len(creatives))
        return [(c.creative_id, events_pb2.CreativeUpdated(creative=c, updated_at=stamp)) for c in creatives]

    def _title(self, profile: common_pb2.ContentProfile) -> OverlaySpec | None:
        if not self._settings.overlay_title:
            return None
        return OverlaySpec(profile.title, format_price(profile.price))

    def _product_image(self, profile: common_pb2.ContentProfile) -> Frame | None:
        """The main image for product presence; a bad one only costs the colour model."""
        if not profile.images:
            return None
        try:
            raw = self._reader.read(profile.images[0], "images[0]", self._settings.max_image_bytes)
            return decode_still(raw, self._settings.max_image_bytes, self._settings.max_image_pixels)
        except VideoRejected as exc:
            log.warning("product image unusable", product_id=profile.product_id, reason=exc.reason)
            return None

    def summarize_profile(self, profile: common_pb2.ContentProfile) -> list[common_pb2.Creative]:
        video = profile.videos[0]
        data = self._reader.read(video, f"video {video.uri or '(inline)'}", self._settings.max_video_bytes)
        try:
            understanding = self._pipeline.understand(data, self._product_image(profile))
        except VideoRejected as exc:
            raise VideoRejected(f"video {video.uri}: {exc.reason}") from exc
        source = video.sha256 or _digest(data)
        creatives = []
        for budget in self._budgets(understanding):
            plan, _ = self._pipeline.plan(understanding, budget)
            for aspect in self._settings.aspects:
                slot_aspect, size = self._pipeline.slot(understanding.info, aspect, None)
                rendered = self._pipeline.render(understanding, plan, slot_aspect, size, self._title(profile))
                summary = Summary(
                    understanding, plan, round(budget * float(understanding.info.fps)), slot_aspect, rendered
                )
                attributes = summary_attributes(summary, self._pipeline.embedder.name)
                creatives.append(
                    self._creative(
                        profile,
                        video_creative_id(
                            profile.product_id, profile.product_version, source, budget, slot_aspect
                        ),
                        rendered,
                        attributes,
                    )
                )
        return creatives

    def _budgets(self, understanding: Understanding) -> list[float]:
        """The configured budgets the video is long enough for, else one whole-video clip."""
        duration = understanding.analysis.duration_s
        fitting = [b for b in self._settings.budgets_s if b < duration]
        return fitting or [min(self._settings.budgets_s)]

    def animate_profile(self, profile: common_pb2.ContentProfile) -> list[common_pb2.Creative]:
        settings = self._settings
        count = min(len(profile.images), settings.animation_max_images)
        images = []
        for i in range(count):
            raw = self._reader.read(
                profile.images[i], f"images[{i}] {profile.images[i].uri}", settings.max_image_bytes
            )
            images.append(decode_still(raw, settings.max_image_bytes, settings.max_image_pixels))
        boxes = _product_boxes(profile, count)
        source = _digest("\n".join(m.sha256 or m.uri for m in profile.images[:count]).encode())
        creatives = []
        for aspect in settings.aspects:
            slot_aspect, rendered = self._pipeline.animate(
                images, seconds=settings.animation_s, aspect=aspect, overlay=self._title(profile), boxes=boxes
            )
            attributes = {
                "generator": "ken-burns",
                "budget_s": f"{settings.animation_s:g}",
                "duration_s": f"{rendered.duration_s:.3f}",
                "aspect": slot_aspect,
                "images": str(count),
                "has_audio": "false",
            }
            creative_id = video_creative_id(
                profile.product_id, profile.product_version, source, settings.animation_s, slot_aspect
            )
            creatives.append(self._creative(profile, creative_id, rendered, attributes))
        return creatives

    def _creative(
        self,
        profile: common_pb2.ContentProfile,
        creative_id: str,
        rendered: RenderedClip,
        attributes: dict[str, str],
    ) -> common_pb2.Creative:
        uri, _ = self._store.put(rendered.video, MP4)
        poster_uri, _ = self._store.put(rendered.poster, JPEG)
        title = self._title(profile)
        return common_pb2.Creative(
            creative_id=creative_id,
            product_id=profile.product_id,
            product_version=profile.product_version,
            format=common_pb2.CREATIVE_FORMAT_VIDEO,
            asset_uri=uri,
            headline=title.headline if title is not None else "",
            template_id=attributes["generator"],
            width=rendered.width,
            height=rendered.height,
            attributes={**attributes, "poster_uri": poster_uri},
        )


def _product_boxes(profile: common_pb2.ContentProfile, count: int) -> Sequence[Box | None]:
    boxes: list[Box | None] = [None] * count
    for analysis in profile.image_analyses:
        box = analysis.product_box
        if 0 <= analysis.image_index < count and box.width > 0 and box.height > 0:
            boxes[analysis.image_index] = (box.x, box.y, box.width, box.height)
    return boxes
