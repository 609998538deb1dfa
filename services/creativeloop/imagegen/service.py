"""The RenderCreative RPC and the content.profiles stream stage (image creatives)."""

from __future__ import annotations

import asyncio
import hashlib
import math
from dataclasses import dataclass
from typing import Any, Protocol, cast

import cv2
import grpc

from creativeloop.imagegen.cutout import Cutout, NormBox, decode_mask, make_cutout
from creativeloop.imagegen.generator import BackgroundGenerator, ModelGenerator, ProceduralGenerator
from creativeloop.imagegen.render import (
    Encoding,
    FontBook,
    ProductImage,
    Rendered,
    Renderer,
    RenderRejected,
    decode_image,
)
from creativeloop.imagegen.settings import ImagegenSettings
from creativeloop.imagegen.templates import SIZES, Template
from creativeloop.kit.assets import AssetNotFound
from creativeloop.kit.codec import InvalidEvent
from creativeloop.kit.errors import DependencyUnavailable
from creativeloop.kit.lifecycle import CreativeRetirer
from creativeloop.kit.logs import get_logger
from creativeloop.kit.models.client import ModelClient
from creativeloop.kit.models.factory import model_client_from_settings
from creativeloop.kit.money import format_price
from creativeloop.kit.producer import EventProducer
from creativeloop.kit.settings import GrpcTlsSettings
from creativeloop.kit.stage import (
    Keyed,
    ProfileStage,
    RetireHook,
    VersionStore,
    profile_subject,
)
from creativeloop.kit.timeutil import now_timestamp
from creativeloop.kit.tls import aio_channel
from creativeloop.kit.topics import CREATIVES
from creativeloop.kit.validation import Invalid, check_id, check_price, check_probability, require
from creativeloop.v1 import (
    common_pb2,
    copygen_pb2,
    copygen_pb2_grpc,
    events_pb2,
    imagegen_pb2,
    imagegen_pb2_grpc,
)

log = get_logger(__name__)

_ENCODINGS: dict[int, Encoding] = {
    imagegen_pb2.IMAGE_ENCODING_PNG: "png",
    imagegen_pb2.IMAGE_ENCODING_JPEG: "jpeg",
    imagegen_pb2.IMAGE_ENCODING_WEBP: "webp",
}
#: Product images are shrunk to this longer side once per profile before rendering every variant.
_STREAM_PRODUCT_SIDE = 1600


class AssetStore(Protocol):
    """What imagegen needs of an asset store: content-addressed put, get by uri.

    `creativeloop.kit.assets.FilesystemAssetStore` implements it; an S3-compatible store with the
    same two methods (s3://bucket/<sha256[:2]>/<sha256>.<ext>) drops in.
    """

    def put(self, content: bytes, mime_type: str) -> tuple[str, str]: ...

    def get(self, uri: str) -> bytes: ...


def build_generator(settings: ImagegenSettings, client: ModelClient | None = None) -> BackgroundGenerator:
    """The background generator the settings ask for (a model client is made if none is given)."""
    if settings.background_generator == "model":
        if client is None:
            client = model_client_from_settings(settings.models)
        return ModelGenerator(client)
    return ProceduralGenerator()


def build_renderer(settings: ImagegenSettings, client: ModelClient | None = None) -> Renderer:
    fonts = FontBook(settings.font_path, settings.bold_font_path, settings.cjk_font_path)
    if fonts.missing:
        log.warning("fonts missing, falling back", missing=fonts.missing)
    return Renderer(
        fonts,
        generator=build_generator(settings, client),
        min_side=settings.min_canvas_side,
        max_side=settings.max_canvas_side,
        jpeg_quality=settings.jpeg_quality,
        webp_quality=settings.webp_quality,
        png_compression=settings.png_compression,
    )


def _threshold(settings: ImagegenSettings, template: Template) -> float:
    if settings.min_mask_confidence is not None:
        return settings.min_mask_confidence
    return template.product.min_mask_confidence


def _norm_box(box: common_pb2.Box) -> NormBox | None:
    if box.width <= 0 or box.height <= 0:
        return None
    return (box.x, box.y, box.width, box.height)


class ImagegenServicer(imagegen_pb2_grpc.ImageGenerationServiceServicer):
    """RenderCreative: inline or stored product image in, encoded creative (bytes or uri) out."""

    def __init__(self, settings: ImagegenSettings, renderer: Renderer, store: AssetStore) -> None:
        self._settings = settings
        self._renderer = renderer
        self._store = store

    async def RenderCreative(
        self,
        request: imagegen_pb2.RenderCreativeRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> imagegen_pb2.RenderCreativeResponse:
        try:
            self._check(request)
            # Decoding, composing, encoding and storing are CPU and disk work: off the event loop.
            return await asyncio.to_thread(self._render, request)
        except RenderRejected as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, exc.reason)

    def _check(self, request: imagegen_pb2.RenderCreativeRequest) -> None:
        """Cheap checks that need no decoding."""
        try:
            check_id("product_id", request.product_id)
            check_probability("product_confidence", request.product_confidence)
            box = request.product_box
            for name in ("x", "y", "width", "height"):
                value = getattr(box, name)
                require(
                    math.isfinite(value) and -1.0 <= value <= 2.0,
                    f"product_box.{name} {value!r} is not in [-1, 2]",
                )
            if request.HasField("price"):
                check_price("price", request.price)
        except Invalid as exc:
            raise RenderRejected(exc.reason) from None
        image = request.product_image
        if not image.content and not image.uri:
            raise RenderRejected("product_image needs content or uri")
        if len(image.content) > self._settings.max_image_bytes:
            raise RenderRejected(
                f"product_image is {len(image.content)} bytes, limit {self._settings.max_image_bytes}"
            )
        if len(request.headline) > self._settings.max_headline_chars:
            raise RenderRejected(
                f"headline has {len(request.headline)} characters, limit {self._settings.max_headline_chars}"
            )
        if request.encoding not in _ENCODINGS and request.encoding != imagegen_pb2.IMAGE_ENCODING_UNSPECIFIED:
            raise RenderRejected(f"unknown encoding {request.encoding}")
        template = self._renderer.template(request.template_id or self._settings.default_template)
        self._renderer.canvas_size(template, request.width, request.height, request.size)
        if len(request.subline) > self._settings.max_headline_chars:
            raise RenderRejected(
                f"subline has {len(request.subline)} characters, limit {self._settings.max_headline_chars}"
            )
        if len(request.badge_text) > 12:
            raise RenderRejected(f"badge_text has {len(request.badge_text)} characters, limit 12")

    def _fetch(self, media: common_pb2.Media, what: str) -> bytes:
        if media.content:
            return media.content
        try:
            return self._store.get(media.uri)
        except AssetNotFound as exc:
            raise RenderRejected(f"{what}.uri: {exc}") from exc

    def _render(self, request: imagegen_pb2.RenderCreativeRequest) -> imagegen_pb2.RenderCreativeResponse:
        template = self._renderer.template(request.template_id or self._settings.default_template)
        product = decode_image(
            self._fetch(request.product_image, "product_image"),
            max_bytes=self._settings.max_image_bytes,
            max_pixels=self._settings.max_image_pixels,
        )
        mask = None
        if request.HasField("product_mask") and (request.product_mask.content or request.product_mask.uri):
            mask = decode_mask(
                self._fetch(request.product_mask, "product_mask"), product.width, product.height
            )
        cutout = make_cutout(
            product,
            mask,
            request.product_confidence,
            min_confidence=_threshold(self._settings, template),
            box=_norm_box(request.product_box),
        )
        badge = "" if request.hide_badge else (request.badge_text or None)
        rendered = self._renderer.render(
            template.id,
            cutout,
            request.headline,
            format_price(request.price),
            size=request.size,
            width=request.width,
            height=request.height,
            encoding=_ENCODINGS.get(request.encoding, self._settings.default_encoding),
            subline=request.subline,
            badge=badge,
        )
        if request.store:
            uri, digest = self._store.put(rendered.content, rendered.mime_type)
            image = common_pb2.Media(uri=uri, sha256=digest, mime_type=rendered.mime_type)
        else:
            digest = hashlib.sha256(rendered.content).hexdigest()
            image = common_pb2.Media(content=rendered.content, sha256=digest, mime_type=rendered.mime_type)
        return imagegen_pb2.RenderCreativeResponse(
            image=image,
            width=rendered.width,
            height=rendered.height,
            template_id=rendered.template_id,
            attributes=rendered.attributes,
            size=rendered.size,
        )


class CopygenUnavailable(DependencyUnavailable):
    """copygen could not answer (down, overloaded, deadline): the stream pauses and retries."""

    def __init__(self, reason: str) -> None:
        super().__init__("copygen", reason)


class CopyClient:
    """GenerateCopy over one long-lived grpc.aio channel, with a deadline per call."""

    def __init__(self, target: str, timeout_s: float, tls: GrpcTlsSettings | None = None) -> None:
        self._channel = aio_channel(target, tls or GrpcTlsSettings())
        self._stub = copygen_pb2_grpc.CopyGenerationServiceStub(self._channel)
        self._target = target
        self._timeout_s = timeout_s

    async def generate(
        self, profile: common_pb2.ContentProfile, max_candidates: int, max_length: int
    ) -> list[common_pb2.CopyCandidate]:
        """Candidates, best first. InvalidEvent if copygen rejects the profile (retrying cannot
        help); CopygenUnavailable for anything else."""
        request = copygen_pb2.GenerateCopyRequest(
            profile=profile, max_candidates=max_candidates, max_length=max_length
        )
        try:
            reply = await self._stub.GenerateCopy(request, timeout=self._timeout_s, wait_for_ready=True)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
                raise InvalidEvent(f"copygen rejected the profile: {exc.details()}") from exc
            raise CopygenUnavailable(
                f"GenerateCopy at {self._target} failed: {exc.code().name} {exc.details()}"
            ) from exc
        return list(cast(copygen_pb2.GenerateCopyResponse, reply).candidates)

    async def close(self) -> None:
        await self._channel.close()


def image_creative_id(
    product_id: str, product_version: int, template_id: str, copy_id: str, size: str = "1:1"
) -> str:
    """Deterministic id of the image creative of one product version, template, size and copy."""
    digest = hashlib.sha256(
        f"image\n{product_id}\n{product_version}\n{template_id}\n{size}\n{copy_id}".encode()
    ).hexdigest()
    return "img-" + digest[:20]


def image_creative(
    profile: common_pb2.ContentProfile, candidate: common_pb2.CopyCandidate, rendered: Rendered, uri: str
) -> common_pb2.Creative:
    return common_pb2.Creative(
        creative_id=image_creative_id(
            profile.product_id,
            profile.product_version,
            rendered.template_id,
            candidate.copy_id,
            rendered.size,
        ),
        product_id=profile.product_id,
        product_version=profile.product_version,
        format=common_pb2.CREATIVE_FORMAT_IMAGE,
        asset_uri=uri,
        headline=candidate.text,
        copy_id=candidate.copy_id,
        template_id=rendered.template_id,
        width=rendered.width,
        height=rendered.height,
        attributes={
            **rendered.attributes,
            "copy_id": candidate.copy_id,
            "copy_generator": candidate.generator,
        },
    )


@dataclass(frozen=True)
class LoadedProduct:
    """The product picture chosen from a profile, with its mask and box when known."""

    image: ProductImage
    mask: Any
    confidence: float
    box: NormBox | None

    def cutout(self, min_confidence: float) -> Cutout:
        return make_cutout(
            self.image, self.mask, self.confidence, min_confidence=min_confidence, box=self.box
        )


def choose_image(profile: common_pb2.ContentProfile) -> tuple[int, common_pb2.ImageAnalysis | None]:
    """The image to render: the admitted analysed image with the best aesthetic score, else the first."""
    analyses = [a for a in profile.image_analyses if 0 <= a.image_index < len(profile.images)]
    admitted = [a for a in analyses if a.admission.admitted] or analyses
    if not admitted:
        return 0, None
    best = max(admitted, key=lambda a: (a.aesthetic_score, -a.image_index))
    return best.image_index, best


class ProfileHandler:
    """content.profiles -> GenerateCopy -> template x size x top copies -> assets + `creatives`.

    Idempotent: creative ids hash their inputs and assets are content-addressed, so a replayed
    profile republishes the same creatives pointing at the same files. `generate` renders; the
    kit's `ProfileStage` does admission, version ordering (persisted with a `TopicVersionStore`),
    deletion, publishing and retirement. copygen being down raises `CopygenUnavailable`, on which
    the worker pauses the partition and retries.
    """

    def __init__(
        self,
        settings: ImagegenSettings,
        producer: EventProducer,
        store: AssetStore,
        renderer: Renderer,
        copy: CopyClient,
        *,
        versions: VersionStore | None = None,
        retire: RetireHook | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._renderer = renderer
        self._copy = copy
        self.stage = ProfileStage(
            "imagegen",
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
        if not profile.images:
            log.info("profile skipped: no image", product_id=profile.product_id)
            return []
        product = await asyncio.to_thread(self.load_product, profile)
        candidates = await self._copy.generate(
            profile, self._settings.copies_per_product, self._settings.copy_max_length
        )
        if not candidates:
            log.info("no copy for profile", product_id=profile.product_id)
            return []
        creatives = await asyncio.to_thread(self.render_all, profile, product, candidates)
        stamp = now_timestamp()
        log.info("image creatives rendered", product_id=profile.product_id, creatives=len(creatives))
        return [(c.creative_id, events_pb2.CreativeUpdated(creative=c, updated_at=stamp)) for c in creatives]

    def _read(self, uri: str, what: str) -> bytes:
        if not uri:
            raise InvalidEvent(f"{what} has no uri")
        try:
            return self._store.get(uri)
        except AssetNotFound as exc:
            raise InvalidEvent(f"{what}: {exc}") from exc

    def load_product(self, profile: common_pb2.ContentProfile) -> LoadedProduct:
        """The chosen image decoded, with its mask; InvalidEvent if missing or undecodable."""
        index, analysis = choose_image(profile)
        uri = profile.images[index].uri
        data = self._read(uri, f"profile.images[{index}]")
        try:
            image = decode_image(
                data, max_bytes=self._settings.max_image_bytes, max_pixels=self._settings.max_image_pixels
            )
            mask = None
            if analysis is not None and analysis.product_mask.uri:
                mask_data = self._read(analysis.product_mask.uri, f"image_analyses[{index}].product_mask")
                mask = decode_mask(mask_data, image.width, image.height)
        except RenderRejected as exc:
            raise InvalidEvent(f"product image {uri}: {exc.reason}") from exc
        shrunk = image.shrunk(_STREAM_PRODUCT_SIDE)
        if mask is not None and shrunk is not image:
            mask = cv2.resize(mask, (shrunk.width, shrunk.height), interpolation=cv2.INTER_AREA)
        confidence = analysis.product_confidence if analysis is not None else 0.0
        box = _norm_box(analysis.product_box) if analysis is not None else None
        return LoadedProduct(shrunk, mask, confidence, box)

    def render_all(
        self,
        profile: common_pb2.ContentProfile,
        product: LoadedProduct | ProductImage,
        candidates: list[common_pb2.CopyCandidate],
    ) -> list[common_pb2.Creative]:
        """Render, store and describe every template x size slot x top candidate."""
        if isinstance(product, ProductImage):
            product = LoadedProduct(product, None, 0.0, None)
        price = format_price(profile.price)
        cutouts: dict[float, Cutout] = {}
        creatives = []
        for template_id in sorted(self._renderer.templates):
            template = self._renderer.templates[template_id]
            threshold = _threshold(self._settings, template)
            if threshold not in cutouts:
                cutouts[threshold] = product.cutout(threshold)
            sizes = [s for s in template.sizes if s in self._settings.stream_sizes and s in SIZES]
            for size in sizes:
                for candidate in candidates[: self._settings.copies_per_product]:
                    rendered = self._renderer.render(
                        template_id,
                        cutouts[threshold],
                        candidate.text,
                        price,
                        size=size,
                        encoding=self._settings.default_encoding,
                    )
                    uri, _ = self._store.put(rendered.content, rendered.mime_type)
                    creatives.append(image_creative(profile, candidate, rendered, uri))
        return creatives
